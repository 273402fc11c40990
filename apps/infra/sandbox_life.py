"""What of the sandbox outlives `make run`, taking it down, and taking it back.

Sandbox hosts are machines of their own: stopping `make run` leaves their agents, sshd, the virtual
routers' dnsmasq and the guests running (as real hosts keep running while the portal restarts).

- `running()`: what runs now, in words, for `make run` to say when it stops;
- `take_down()` (`manage.py sandbox_down`): power the sandbox off: guests, routers, hosts' processes
  and namespaces and the sandbox switch are removed; the database says so (VMs Stopped, hosts
  Disconnected with the reason), so nothing claims a state no host has;
- `bring_back()` (`make run` on start): every sandbox host whose machine or agent is gone is
  reconnected by a job (the machine is rebuilt, its agent started, its bridges, storage and firewall
  converged); hosts whose agent still runs are simply taken back by the host monitor.
"""

import contextlib
import logging
import os

from . import sandbox
from .choices import HostStatus, HypervisorType
from .models import Host

log = logging.getLogger("nimbo.infra.sandbox")
TAKEN_DOWN = "The sandbox was taken down (manage.py sandbox_down); make run brings it back."


def _hosts():
    return list(Host.objects.filter(cluster__hypervisor_type=HypervisorType.SANDBOX).select_related("cluster"))


def _agent_alive(host):
    return bool(sandbox._pid(sandbox.agent_pidfile(host.netns))) if sandbox.netns_exists(host.netns) else False


def running():
    """Lines naming what of the sandbox runs now (empty if nothing does)."""
    from apps.compute.choices import VmState
    from apps.compute.models import VmInstance
    from apps.vrouter.models import VirtualRouter
    from workers.host import domains

    hosts = [h for h in _hosts() if sandbox.netns_exists(h.netns)]
    lines = []
    if hosts:
        agents = sum(1 for h in hosts if _agent_alive(h))
        lines.append(f"{len(hosts)} sandbox host(s) ({', '.join(h.name for h in hosts)}): {agents} agent(s) and "
                     "their sshd")
    host_ids = [h.pk for h in hosts]
    routers = VirtualRouter.objects.filter(host_id__in=host_ids).exclude(namespace="")
    routers = [vr for vr in routers if sandbox.netns_exists(vr.namespace)]
    if routers:
        lines.append(f"{len(routers)} virtual router(s) with their dnsmasq")
    vms = VmInstance.objects.filter(host_id__in=host_ids, state=VmState.RUNNING).count()
    if vms:
        lines.append(f"{vms} guest(s)")
    if domains.libvirt_answers():
        lines.append(f"libvirtd (pids {', '.join(map(str, domains.started_daemons())) or 'unknown'})")
    return lines


def take_down():
    """Remove every sandbox guest, router, host machine and the switch; returns what was removed."""
    from apps.compute.choices import GuestKind, VmState
    from apps.compute.guest_specs import guest_spec
    from apps.compute.models import VmInstance
    from apps.vrouter.models import VirtualRouter
    from apps.vrouter.routers import router_spec
    from workers.host import domains, guests, router

    hosts = _hosts()
    host_ids = [h.pk for h in hosts]
    done = {"guests": 0, "routers": 0, "hosts": 0, "not_stopped": []}
    for vm in VmInstance.objects.filter(host_id__in=host_ids).select_related("host__cluster"):
        if vm.guest_kind == GuestKind.NAMESPACE:
            with contextlib.suppress(Exception):  # what is left of it dies with the host's namespace below
                guests.destroy(guest_spec(vm, vm.host))
        else:
            try:  # a domain already gone is a no-op; a failure means its QEMU may still run
                domains.undefine(f"nimbo-{vm.pk}")
            except Exception as exc:  # noqa: BLE001 - the other guests and hosts still go down
                log.warning("sandbox guest %s could not be stopped: %s", vm.name, exc)
                done["not_stopped"].append(f"{vm.name}: {exc}")
                continue  # its state stays what it is: it may well still run
        if vm.state in (VmState.RUNNING, VmState.STARTING, VmState.STOPPING, VmState.REBOOTING):
            VmInstance.objects.filter(pk=vm.pk).update(state=VmState.STOPPED)
            done["guests"] += 1
    for vr in VirtualRouter.objects.filter(host_id__in=host_ids).select_related("host__cluster",
                                                                                   "l3_network__l2_network"):
        if vr.namespace and sandbox.netns_exists(vr.namespace):
            with contextlib.suppress(Exception):
                router.destroy_router(router_spec(vr))
            done["routers"] += 1
    for host in hosts:
        if sandbox.netns_exists(host.netns):
            done["hosts"] += 1
        sandbox.destroy_machine(host.netns)
        Host.objects.filter(pk=host.pk).update(status=HostStatus.DISCONNECTED, status_message=TAKEN_DOWN)
    sandbox.destroy_phys()
    if not os.path.isdir("/run/systemd/system") and domains.libvirt_answers():
        # No service manager runs libvirt here: the agents started it; with no guest left, it goes too.
        domains.stop_daemons(domains.started_daemons())
        done["libvirtd"] = not domains.libvirt_answers()
    return done


def bring_back(user=None):
    """Reconnect (as jobs) the sandbox hosts whose machine or agent is gone; the jobs started."""
    from .services import reconnect_host

    jobs = []
    for host in _hosts():
        if host.status == HostStatus.CONNECTING or _agent_alive(host):
            continue
        log.info("sandbox host %s: its machine or agent is gone, reconnecting it", host.name)
        jobs.append(reconnect_host(host, user=user))
    return jobs
