"""The one door to host-side storage work (workers.host.storage): where it runs is decided here.

Today every call runs in the calling process: sandbox hosts and the management node share this
machine, and with no connected host the work is done on the management node itself. Routing a
call to a remote host's agent (its RQ queue, `host.queue_name`) changes this module only; the
host functions already take and return plain data.
"""

import importlib
import logging

from apps.core.exceptions import JobFailed
from workers.host.errors import HostError

log = logging.getLogger("nimbo.storage.agent")


def call_host(host, function, spec, progress=None):
    """Run `workers.host.storage.<function>(spec)` for `host` (None: the management node).

    Returns the function's plain-data result; a HostError becomes a JobFailed naming the host.
    `progress(done, total)` is passed to functions that report progress (cache_image).
    """
    module_name, _, name = function.rpartition(".")
    func = getattr(importlib.import_module(f"workers.host.{module_name or 'storage'}"), name)
    kwargs = {"progress": progress} if progress is not None else {}
    try:
        return func(spec, **kwargs)
    except HostError as exc:
        where = f"host {host.name}" if host is not None else "the management node"
        raise JobFailed(f"On {where}: {exc.message}") from exc
