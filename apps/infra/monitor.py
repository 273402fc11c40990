"""The host monitor: reads the agents' heartbeats and turns hosts Disconnected and back.

`check_hosts()` is one pass; `manage.py host_monitor` runs it every few seconds (started by
`make run`). A Connected host whose agent stopped beating turns Disconnected; a host the monitor
disconnected turns Connected again as soon as its agent beats. A host disconnected for another
reason (a failed reconnect, a changed host key) waits for a reconnect.
"""

import datetime
import logging

from apps.core.notify import notify

from .agent import last_heartbeat, redis_connection
from .choices import HostStatus
from .models import Host

log = logging.getLogger("nimbo.infra.monitor")
AGENT_SILENT = "The host agent stopped answering (no heartbeat)."


def _event(host, status):
    verb = "connected again" if status == HostStatus.CONNECTED else "disconnected: " + AGENT_SILENT
    return {"type": "host", "host": str(host.uuid), "name": host.name, "status": status,
            "message": f"Host {host.name} {verb}"}


def _routers_follow(host, status):
    """A host gone: its routers move to another host of its cluster; a host back: the routers that moved away
    meanwhile are removed from it."""
    from apps.vrouter import routers

    try:
        if status == HostStatus.DISCONNECTED:
            for job in routers.evacuate(host):
                log.info("host %s: router job %s started", host.name, job.uuid)
        else:
            host.status = status
            removed = routers.remove_stale_routers(host)
            if removed:
                log.info("host %s: stale routers removed: %s", host.name, ", ".join(removed))
    except Exception:  # the monitor keeps watching the other hosts
        log.exception("host %s: its routers could not follow its status %s", host.name, status)


def check_hosts():
    """One pass over the hosts; the list of (host name, new status) that changed."""
    connection = redis_connection()
    changed = []
    for host in Host.objects.filter(status__in=[HostStatus.CONNECTED, HostStatus.DISCONNECTED]):
        beat = last_heartbeat(host.uuid, connection)
        updates = {}
        if beat:
            updates["last_heartbeat"] = datetime.datetime.fromtimestamp(beat, tz=datetime.UTC)
            if host.status == HostStatus.DISCONNECTED and host.status_message == AGENT_SILENT:
                updates.update(status=HostStatus.CONNECTED, status_message="")
        elif host.status == HostStatus.CONNECTED:
            updates.update(status=HostStatus.DISCONNECTED, status_message=AGENT_SILENT)
        if not updates:
            continue
        # Only if the status is still what we read: a running reconnect job wins.
        done = Host.objects.filter(pk=host.pk, status=host.status).update(**updates)
        if done and "status" in updates:
            log.info("host %s is now %s", host.name, updates["status"])
            changed.append((host.name, updates["status"]))
            notify(_event(host, updates["status"]))
            _routers_follow(host, updates["status"])
    return changed
