"""Host jobs: add/reconnect (SSH, Ansible, agent, facts), run by the management node's workers."""

import logging
import os

from django.conf import settings
from django.utils import timezone
from rq import Queue

from apps.core.exceptions import JobFailed

from . import ansible, realise, sandbox, ssh
from .agent import HEARTBEAT_KEY, HostOperationFailed, call_host, redis_connection, wait_for_heartbeat
from .choices import HostStatus
from .models import Host

log = logging.getLogger("nimbo.infra.jobs")


def agent_redis_url(host):
    """The Redis the host's agent connects to: the management Redis, as the host can reach it."""
    if host.is_sandbox:
        return settings.REDIS_URL
    url = os.environ.get("NIMBO_AGENT_REDIS_URL") or settings.REDIS_URL
    if url.startswith("unix:"):
        raise JobFailed(f"The agent on {host.management_ip} cannot reach this Redis ({url} is a unix socket on "
                        "the management node): set NIMBO_AGENT_REDIS_URL to an address the host reaches, "
                        "e.g. redis://mgmt.example.org:6379/0.")
    return url


def heartbeat_interval():
    return float(os.environ.get("NIMBO_AGENT_HEARTBEAT", "5"))


def connect_host(ctx, host_uuid, adding=False, accept_new_host_key=False):
    """Add or reconnect a host: SSH login, the playbook, the agent, the facts; then Connected.

    A failed add removes the host again (and the sandbox namespace it built), so a corrected
    retry starts clean; a failed reconnect leaves the host Disconnected with the reason.
    """
    host = Host.objects.select_related("cluster").get(pk=host_uuid)
    Host.objects.filter(pk=host.pk).update(status=HostStatus.CONNECTING, status_message="")
    built_sandbox = False
    try:
        redis_url = agent_redis_url(host)
        if host.is_sandbox:
            with ctx.step(f"Build the sandbox host (namespace {host.netns})", progress=10):
                built_sandbox = sandbox.ensure_machine(host.netns, host.management_ip, host.password, host.ssh_port)
        with ctx.step(f"Log in over SSH as {host.username}@{host.management_ip}:{host.ssh_port}", progress=20):
            # A sandbox machine Nimbo has just built (again) has a new host key by construction.
            known = "" if accept_new_host_key or built_sandbox else host.host_key
            with ssh.connect(host.management_ip, host.ssh_port, host.username, host.password,
                             known_host_key=known, netns=host.netns) as conn:
                status, out, _ = conn.run("id -u")
                if status != 0 or out.strip() != "0":
                    raise JobFailed(
                        f"{host.username} on {host.management_ip} is not root: the host cannot be prepared.")
                if host.host_key != conn.host_key:
                    host.host_key = conn.host_key
                    Host.objects.filter(pk=host.pk).update(host_key=conn.host_key)
        with ctx.step("Prepare the host (Ansible playbook)", progress=70):
            ansible.run_playbook(ctx, host, redis_url=redis_url, heartbeat=heartbeat_interval())
        with ctx.step("Wait for the host agent", progress=80):
            if not wait_for_heartbeat(host.uuid, timeout=30):
                where = "" if host.is_sandbox else (
                    f": can it reach the management Redis at {redis_url} (NIMBO_AGENT_REDIS_URL)?")
                raise JobFailed(f"The agent on {host.management_ip} did not start (no heartbeat within 30 s){where}")
            call_host(host, "host.ping", timeout=30)
        with ctx.step("Check that libvirt answers (the agent starts it where nothing runs it)", progress=85):
            try:
                libvirt = call_host(host, "host.libvirt", timeout=60)
            except HostOperationFailed as exc:
                raise JobFailed(f"The host {host.management_ip} cannot run guests: {exc}") from exc
            ctx.set_result(libvirt=libvirt["version"], libvirt_started=bool(libvirt["started"]))
        with ctx.step("Gather facts (CPU, memory, KVM)", progress=90):
            facts = call_host(host, "host.facts", timeout=30)
            host.cpu_num = facts["cpu_num"]
            host.cpu_speed = facts["cpu_speed"]
            host.memory_size = facts["memory_size"]
            host.domain_type = facts["domain_type"]
            host.facts = {**facts, "libvirt": libvirt["version"]}
            host.save(update_fields=["cpu_num", "cpu_speed", "memory_size", "domain_type", "facts", "updated"])
        realise.on_host_connected(ctx, host)
    except Exception as exc:
        if adding:
            log.info("adding host %s failed: %s", host.management_ip, exc)
            Host.objects.filter(pk=host.pk).delete()
            if built_sandbox:
                sandbox.destroy_machine(host.netns)
        else:
            Host.objects.filter(pk=host.pk).update(status=HostStatus.DISCONNECTED, status_message=str(exc)[:512])
        raise
    Host.objects.filter(pk=host.pk).update(
        status=HostStatus.CONNECTED, status_message="", last_heartbeat=timezone.now()
    )
    return {"host": str(host.uuid), "domain_type": host.domain_type, "cpu_num": host.cpu_num,
            "memory_size": host.memory_size}


AGENT_UNIT = "nimbo-agent.service"
STOP_AGENT = (f"if systemctl cat {AGENT_UNIT} >/dev/null 2>&1; then systemctl disable --now {AGENT_UNIT}; "
              f"else echo 'no {AGENT_UNIT}'; fi; systemctl is-active {AGENT_UNIT} || true")


def stop_remote_agent(host):
    """Stop and disable the agent's systemd service on a real host, over SSH. Raises JobFailed when the
    host cannot be reached or the service is still active."""
    with ssh.connect(host.management_ip, host.ssh_port, host.username, host.password,
                     known_host_key=host.host_key) as conn:
        status, out, err = conn.run(STOP_AGENT, timeout=60)
    state = (out.strip().splitlines() or [""])[-1]
    if status != 0 or state not in ("inactive", "unknown", "failed"):
        raise JobFailed(f"systemctl could not stop {AGENT_UNIT} on {host.management_ip}: "
                        f"{(err.strip() or out.strip())[-300:]}")


def delete_host(ctx, host_uuid):
    """Forget a host, then stop and disable its agent (a sandbox host: remove its namespace).

    The row goes first, so nothing is stopped on a host that something still uses. An agent that cannot
    be stopped (the host is down, its password changed) is reported in the job: step and result say so,
    and what to run on the host.
    """
    host = Host.objects.select_related("cluster").filter(pk=host_uuid).first()
    if host is None:
        return {"host": host_uuid}
    result = {"host": host_uuid}
    from apps.vrouter.routers import leave_host

    leave_host(host, ctx.step)
    with ctx.step(f"Forget host {host.name}", progress=30):
        Host.objects.filter(pk=host_uuid).delete()
    if host.is_sandbox:
        with ctx.step(f"Remove the sandbox host (namespace {host.netns}) and its agent", progress=90):
            sandbox.destroy_machine(host.netns)
    else:
        step = ctx.begin_step(f"Stop and disable the host agent ({AGENT_UNIT}) on {host.management_ip}")
        try:
            stop_remote_agent(host)
        except JobFailed as exc:
            warning = (f"The agent on {host.name} ({host.management_ip}) was not stopped: {exc} Stop it on the "
                       f"host with: systemctl disable --now {AGENT_UNIT}")
            ctx.end_step(step, "skipped", reason=warning)
            result["warning"] = warning
        else:
            ctx.end_step(step, "done", progress=90)
    # Calls nobody will answer any more, and the heartbeat of an agent that could not say goodbye.
    connection = redis_connection()
    Queue(host.queue_name, connection=connection).delete(delete_jobs=True)
    connection.delete(HEARTBEAT_KEY.format(host_uuid))
    return result


def realise_l2(ctx, l2_uuid, cluster_uuid):
    """Build an L2 network's bridges on the connected hosts of a cluster (after attaching it)."""
    from apps.infra.models import Cluster
    from apps.networks.models import L2Network

    l2, cluster = L2Network.objects.get(pk=l2_uuid), Cluster.objects.get(pk=cluster_uuid)
    with ctx.step(f"Build the bridge of {l2} on the hosts of {cluster}", progress=90):
        bridges = realise.realise_l2_on_cluster(l2, cluster)
    return {"bridges": bridges}


def unrealise_l2(ctx, l2_uuid, cluster_uuid):
    """Remove an L2 network's bridges from the hosts of a cluster where nothing uses them (after detaching)."""
    from apps.infra.models import Cluster
    from apps.networks.models import L2Network

    l2, cluster = L2Network.objects.get(pk=l2_uuid), Cluster.objects.get(pk=cluster_uuid)
    with ctx.step(f"Remove the bridge of {l2} from the hosts of {cluster}", progress=90):
        outcome = realise.unrealise_l2_on_cluster(l2, cluster)
    for host_name, result in outcome.items():
        if result["in_use"]:
            ctx.skip(f"Keep {result['bridge']} on {host_name}", f"still used by {', '.join(result['in_use'])}")
    return {"hosts": outcome}
