"""Calling the host agent from the management side: enqueue on the host's queue, wait for the answer.

    call_host(host, "network.ensure_l2", {"interface": "eth0", "vlan": 100}, timeout=60)

Every host (a real one or a sandbox host) has its own agent process serving `host-<uuid>`; a
sandbox host's agent runs on this machine inside the host's namespace, so its netlink calls act
on that namespace. With NIMBO_HOST_CALLS_INLINE the operation runs in this process instead
(tests of code that does not need a host's namespace).
"""

import contextlib
import logging
import time

import django_rq
from django.conf import settings
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.results import Result

from apps.core.exceptions import NimboError

from .ssh import HostUnreachable

log = logging.getLogger("nimbo.infra.agent")
HEARTBEAT_KEY = "nimbo:host:{}:heartbeat"  # the same key as workers.host.agent


class HostOperationFailed(NimboError):
    code = "host_operation_failed"


def redis_connection():
    return django_rq.get_connection("default")


def call_queue(queue_name, operation, payload=None, *, timeout=60, target="the host", alive=None):
    """Run `operation(**payload)` on the agent serving `queue_name`; its result, or a readable error.

    `alive()`, when given, says whether the agent still beats: a call whose agent died under it (killed,
    its host rebooted) fails as soon as the heartbeat is gone instead of waiting out its timeout.
    """
    if getattr(settings, "NIMBO_HOST_CALLS_INLINE", False):
        from workers.host.agent import dispatch

        answer = dispatch(operation, payload or {})
    else:
        queue = Queue(queue_name, connection=redis_connection())
        job = queue.enqueue_call(
            "workers.host.agent.dispatch", args=(operation, payload or {}), timeout=timeout,
            ttl=timeout, result_ttl=600, failure_ttl=600,
        )
        result = _wait_for_result(job, timeout, alive)
        if result is _AGENT_GONE:
            with contextlib.suppress(InvalidJobOperation, NoSuchJobError, ValueError):
                job.delete()
            raise HostUnreachable(f"{target} stopped answering while it ran {operation}: its agent is gone (no "
                                  "heartbeat). What the operation did so far is repaired when the host is back.")
        if result is None:
            # The agent may be ending this very job now (its own timeout fires about as ours does):
            # RQ then finds its records half gone. Removing it is best effort; the answer is the same.
            with contextlib.suppress(InvalidJobOperation, NoSuchJobError, ValueError):
                job.cancel()
            with contextlib.suppress(InvalidJobOperation, NoSuchJobError, ValueError):
                job.delete()
            raise HostUnreachable(f"{target} did not answer {operation} within {timeout} s: is its agent running?")
        if result.type != Result.Type.SUCCESSFUL:
            log.error("%s on %s crashed: %s", operation, queue_name, result.exc_string)
            raise HostOperationFailed(f"{operation} crashed on {target}.")
        answer = result.return_value
    if not answer.get("ok"):
        if answer.get("traceback"):
            log.error("%s on %s: %s", operation, queue_name, answer["traceback"])
        raise HostOperationFailed(answer.get("error") or f"{operation} failed on {target}.")
    return answer.get("result")


_AGENT_GONE = object()
# Seconds an agent stays silent (its heartbeat key gone) before a call waiting on it fails: an agent being
# restarted (a reconnect) is silent for a moment and then serves the call.
AGENT_GONE_AFTER = 8


def _wait_for_result(job, timeout, alive=None):
    """The job's result, waited for in short blocking reads: redis-py gives connections a 5 s socket
    timeout by default, so one long blocking XREAD would fail as a socket error after 5 s. `_AGENT_GONE`
    when `alive()` says the agent stopped beating (and no result came meanwhile)."""
    deadline = time.monotonic() + timeout
    silent_since = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        result = job.latest_result(timeout=max(1, min(2, int(left))))
        if result is not None:
            return result
        if alive is None or alive():
            silent_since = None
        elif silent_since is None:
            silent_since = time.monotonic()
        elif time.monotonic() - silent_since >= AGENT_GONE_AFTER:
            return job.latest_result() or _AGENT_GONE


def call_host(host, operation, payload=None, *, timeout=60):
    return call_queue(host.queue_name, operation, payload, timeout=timeout, target=f"Host {host.name}",
                      alive=lambda: last_heartbeat(host.uuid) is not None)


def last_heartbeat(host_uuid, connection=None):
    """Time (epoch seconds) of the agent's last heartbeat, or None if it is not beating."""
    value = (connection or redis_connection()).get(HEARTBEAT_KEY.format(host_uuid))
    return float(value) if value else None


def wait_for_heartbeat(host_uuid, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if last_heartbeat(host_uuid):
            return True
        time.sleep(0.1)
    return False
