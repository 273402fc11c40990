"""The one door to host-side storage work (workers.host.storage): where it runs is decided here.

A call for a host goes to that host's agent (its queue `host-<uuid>`, through
apps.infra.agent.call_host) as the operation "storage.<function>"; a call with no host (a
cluster without connected hosts, or work on the management node itself) runs in this process.
The host functions take and return plain data either way.
"""

import logging

from apps.core.exceptions import JobFailed, NimboError
from workers.host import storage as _registers_storage_operations  # noqa: F401
from workers.host.errors import HostError
from workers.host.ops import OPERATIONS

log = logging.getLogger("nimbo.storage.agent")

# Seconds a host may take per operation (copying an image into the cache can be long).
TIMEOUTS = {"cache_image": 3600, "mount_primary_storage": 180, "unmount_primary_storage": 180}


def call_host(host, function, spec, progress=None):
    """Run `workers.host.storage.<function>(spec)` for `host` (None: the management node).

    Returns the function's plain-data result; a failure becomes a JobFailed naming the host.
    `progress(done, total)` is passed to functions that report progress (cache_image) when the
    work runs in this process.
    """
    if host is not None:
        return _on_agent(host, function, spec)
    func = OPERATIONS[f"storage.{function}"].takes_payload  # a registered storage operation, nothing else
    kwargs = {"progress": progress} if progress is not None else {}
    try:
        return func(spec, **kwargs)
    except HostError as exc:
        raise JobFailed(f"On the management node: {exc.message}") from exc


def _on_agent(host, function, spec):
    from apps.infra.agent import HostOperationFailed
    from apps.infra.agent import call_host as call_agent

    try:
        return call_agent(host, f"storage.{function}", spec, timeout=TIMEOUTS.get(function, 120))
    except HostOperationFailed as exc:
        raise JobFailed(f"On host {host.name}: {exc.message}") from exc
    except NimboError:
        raise
