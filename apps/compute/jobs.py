"""Worker jobs of the VM lifecycle: start (placing the VM first), stop, reboot, destroy.

Each job moves the VM through its states (Starting -> Running, Stopping -> Stopped, ...), saved as
it goes so every page shows them live, and calls the VM's host through its agent:
- namespace guests: `guests.start/stop/destroy` with the guest's plain-data spec;
- libvirt guests: `domains.*` with the domain XML compiled by apps/compute/compile.py.
The L3 networks' virtual routers are booted or updated (their dnsmasq learns the NIC) first.
"""

import logging
import os

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum

from apps.core.exceptions import JobFailed
from apps.infra.agent import call_host
from apps.infra.choices import EnabledState, HostStatus
from apps.infra.models import Host
from apps.secgroups.sync import sync_for_vm

from .allocator import choose_host
from .choices import GuestKind, VmState
from .guest_specs import guest_spec
from .models import VmInstance

log = logging.getLogger("nimbo.compute.jobs")
ACTIVE = [VmState.STARTING, VmState.RUNNING, VmState.STOPPING, VmState.REBOOTING]


def _vm(uuid):
    return VmInstance.objects.select_related("instance_offering", "image", "zone", "host__cluster").get(pk=uuid)


def _set_state(vm, state, **fields):
    vm.state = state
    for name, value in fields.items():
        setattr(vm, name, value)
    vm.save(update_fields=["state", "updated", *fields])


def host_candidates(vm):
    """Connected, enabled hosts of the VM's zone that reach all its L2 networks, with their usage."""
    from apps.infra.choices import HypervisorType

    hosts = Host.objects.filter(cluster__zone=vm.zone, status=HostStatus.CONNECTED, state=EnabledState.ENABLED,
                                cluster__state=EnabledState.ENABLED).select_related("cluster")
    for nic in vm.nics.select_related("l3_network__l2_network"):
        hosts = hosts.filter(cluster__l2_networks=nic.l3_network.l2_network)
    if vm.guest_kind == GuestKind.NAMESPACE:
        hosts = hosts.filter(cluster__hypervisor_type=HypervisorType.SANDBOX)
    hosts = hosts.annotate(
        used_cpu=Sum("vm_instances__instance_offering__cpu_num", filter=Q(vm_instances__state__in=ACTIVE)),
        used_memory=Sum("vm_instances__instance_offering__memory_size", filter=Q(vm_instances__state__in=ACTIVE)),
    ).order_by("cluster__name", "name").distinct()
    return [{"uuid": str(h.pk), "name": h.name, "cpu_num": h.cpu_num, "memory_size": h.memory_size,
             "used_cpu": h.used_cpu or 0, "used_memory": h.used_memory or 0, "host": h} for h in hosts]


def cpu_ratio():
    """Virtual CPUs per host CPU: NIMBO_CPU_OVERCOMMIT (setting or environment), 10 as in ZStack."""
    return float(getattr(settings, "NIMBO_CPU_OVERCOMMIT", None) or os.environ.get("NIMBO_CPU_OVERCOMMIT") or 10)


def place(vm):
    """Choose the VM's host (locked against concurrent placements) and mark it Starting there."""
    offering = vm.instance_offering
    with transaction.atomic():
        list(Host.objects.select_for_update().filter(cluster__zone=vm.zone).values_list("pk"))
        chosen = choose_host(host_candidates(vm), offering.cpu_num if offering else 1,
                             offering.memory_size if offering else 0, offering.allocator_strategy if offering else
                             "DefaultHostAllocatorStrategy", last_host=str(vm.last_host_id or ""),
                             cpu_ratio=cpu_ratio())
        host = chosen["host"]
        _set_state(vm, VmState.STARTING, host=host, cluster=host.cluster, last_host=host)
    return host


def _prepare_root_volume(ctx, vm, host):
    """The VM's root volume: a qcow2 overlay on the image cached on the cluster's primary storage."""
    from apps.storage.models import PrimaryStorage
    from apps.storage.volumes import create_root_volume, ensure_image_cached

    if vm.volumes.exists():
        return vm.volumes.first()
    storage = PrimaryStorage.objects.filter(attachments__cluster=host.cluster).first()
    if storage is None:
        if vm.guest_kind == GuestKind.NAMESPACE:
            ctx.skip("Prepare the root volume", "no primary storage is attached to the cluster; a namespace "
                     "guest runs without a disk")
            return None
        raise JobFailed(f"Cluster {host.cluster.name} has no primary storage for the VM's root volume.")
    with ctx.step(f"Cache image {vm.image.name} on {storage.name}", progress=20):
        ensure_image_cached(vm.image, storage, ctx=None)
    with ctx.step("Create the root volume", progress=30):
        volume = create_root_volume(vm.image, storage, f"ROOT-{vm.name}", ctx=None)
        volume.vm_instance, volume.project_id = vm, vm.project_id  # the VM's project owns its disk
        volume.save(update_fields=["vm_instance", "project"])
    return volume


def _networks(ctx, vm, host):
    """The virtual routers of the VM's L3 networks know its NICs (the first VM boots the router).

    The bridges are made sure of by the guest's start itself (the spec lists its L2 networks): one
    host call per VM fewer, the bridge being there already nearly always (built at attach)."""
    from apps.vrouter.routers import ensure_router_for, served_by_router

    nics = list(vm.nics.select_related("l3_network__l2_network").prefetch_related(
        "l3_network__network_services", "l3_network__dns_servers", "l3_network__ip_ranges"))
    for nic in nics:
        if served_by_router(nic.l3_network):
            ensure_router_for(nic.l3_network, host, ctx)


def _start_guest(host, vm):
    spec = guest_spec(vm, host)
    if vm.guest_kind == GuestKind.NAMESPACE:
        call_host(host, "guests.start", spec, timeout=60)
    else:
        call_host(host, "domains.start_guest", spec, timeout=120)


def restore_guests_of_host(host):
    """A host (re)connected: each VM the database says runs there gets its guest back (a host that
    rebooted, a sandbox host rebuilt); a guest that still runs is left as it is (starting is idempotent).
    A VM whose guest cannot come back turns Error and the others go on."""
    restored, failed = 0, []
    for vm in VmInstance.objects.filter(host=host, state=VmState.RUNNING).select_related(
            "instance_offering", "image", "zone", "host__cluster"):
        try:
            _networks(None, vm, host)
            _start_guest(host, vm)
            sync_for_vm(vm)
            restored += 1
        except Exception as exc:  # noqa: BLE001 - one guest must not keep the host from connecting
            log.warning("guest of %s did not come back on %s: %s", vm.name, host.name, exc)
            _set_state(vm, VmState.ERROR)
            failed.append(vm.name)
    if failed:
        log.warning("host %s: %d guest(s) back, %s in Error", host.name, restored, ", ".join(failed))
    return restored


def start_vm(ctx, vm):
    """Job: place the VM if it has no host, give it its disk and networks, start its guest."""
    vm = _vm(vm)
    if vm.state == VmState.RUNNING:
        ctx.skip("Start the guest", "the VM is already running")
        return {"state": vm.state}
    first_start = vm.state == VmState.CREATED
    with ctx.step("Choose a host", progress=10):
        host = place(vm)
    ctx.on_failure(lambda: _set_state(vm, VmState.STOPPED if not first_start else VmState.ERROR, host=None))
    _prepare_root_volume(ctx, vm, host)
    _networks(ctx, vm, host)
    with ctx.step(f"Start the guest on {host.name}", progress=90):
        _start_guest(host, vm)
    _set_state(vm, VmState.RUNNING)
    # Its host's firewall now filters its NICs (and remote-group sets elsewhere list its addresses).
    sync_for_vm(vm)
    return {"state": vm.state, "host": host.name}


def create_vm(ctx, vm):
    """Job: the first start of a new VM; if it fails, the VM is left in Error with its guest removed from the
    host it was placed on and its addresses released (a failed VM never holds addresses others need)."""
    from apps.core.jobs import EXPECTED_ERRORS

    try:
        return start_vm(ctx, vm)
    except EXPECTED_ERRORS:
        record = VmInstance.objects.select_related("host__cluster").filter(pk=vm).first()
        if record is not None and record.state != VmState.RUNNING:
            from .services import delete_nic

            if record.host_id is not None and any(step["name"].startswith("Start the guest")
                                                  for step in ctx.job.steps):
                _forget_guest(record)
            with transaction.atomic():
                for nic in list(record.nics.select_related("used_ip")):
                    delete_nic(nic)
                _set_state(record, VmState.ERROR)
        raise


def _forget_guest(vm):
    """Remove what a failed first start may have left of the guest on its host (best effort)."""
    from apps.core.exceptions import NimboError

    op = "guests.destroy" if vm.guest_kind == GuestKind.NAMESPACE else "domains.destroy_guest"
    try:
        call_host(vm.host, op, guest_spec(vm, vm.host), timeout=60)
    except NimboError as exc:
        log.warning("VM %s: its guest could not be removed from %s after a failed start: %s", vm, vm.host, exc)


def _stop_guest(vm, host, timeout):
    """Stop the guest; how it ended: "graceful" (it shut down within `timeout`), "forced" or "stopped"."""
    spec = guest_spec(vm, host)
    if vm.guest_kind == GuestKind.NAMESPACE:
        call_host(host, "guests.stop", spec, timeout=60)
        return "forced"  # a namespace guest has no operating system to ask: its processes are ended
    return call_host(host, "domains.stop_guest", {**spec, "timeout": timeout}, timeout=timeout + 60)


def stop_vm(ctx, vm, timeout=30):
    vm = _vm(vm)
    if vm.host_id is None:
        ctx.skip("Stop the guest", f"the VM is {vm.state} and runs nowhere")
        return {"state": vm.state}
    _set_state(vm, VmState.STOPPING)
    old_host = vm.host
    with ctx.step(f"Stop the guest on {old_host.name} (shut down within {timeout} s, then forced)", progress=90):
        how = _stop_guest(vm, old_host, timeout)
    _set_state(vm, VmState.STOPPED, host=None)
    sync_for_vm(vm, old_host)
    return {"state": vm.state, "shutdown": how}


def reboot_vm(ctx, vm, timeout=30):
    """Job: restart the guest where it runs. Its host, disk, taps and addresses stay; the guest is asked
    to shut down, forced after `timeout` seconds, and started again at once."""
    vm = _vm(vm)
    if vm.host_id is None or vm.state != VmState.RUNNING:
        raise JobFailed(f"VM {vm.name} is {vm.state}; only a running VM can be rebooted.")
    host = vm.host
    _set_state(vm, VmState.REBOOTING)
    ctx.on_failure(lambda: _set_state(vm, VmState.ERROR))
    with ctx.step(f"Restart the guest on {host.name} (shut down within {timeout} s, then forced)", progress=50):
        spec = guest_spec(vm, host)
        if vm.guest_kind == GuestKind.NAMESPACE:
            call_host(host, "guests.stop", spec, timeout=60)
            call_host(host, "guests.start", spec, timeout=60)
            how = "forced"
        else:
            how = call_host(host, "domains.reboot_guest", {**spec, "timeout": timeout}, timeout=timeout + 180)
    _set_state(vm, VmState.RUNNING)
    return {"state": vm.state, "host": host.name, "shutdown": how}


def destroy_vm(ctx, vm, timeout=5):
    """Job: stop the guest, remove it from its host and its routers, free its disk and addresses."""
    from apps.storage.volumes import delete_volume
    from apps.vrouter.routers import ensure_router_for, served_by_router

    from .services import delete_nic

    vm = _vm(vm)
    host = vm.host
    _set_state(vm, VmState.DESTROYING)
    if host is not None:
        with ctx.step(f"Remove the guest from {host.name}", progress=40):
            spec = guest_spec(vm, host)
            op = "guests.destroy" if vm.guest_kind == GuestKind.NAMESPACE else "domains.destroy_guest"
            call_host(host, op, spec, timeout=60)
    l3s = [n.l3_network for n in vm.nics.select_related("l3_network__l2_network")]
    for l3 in l3s:
        if served_by_router(l3) and hasattr(l3, "virtual_router") and l3.virtual_router.host_id:
            ensure_router_for(l3, l3.virtual_router.host, ctx)
    with ctx.step("Release volumes and addresses", progress=90):
        for volume in list(vm.volumes.all()):
            delete_volume(volume)
        with transaction.atomic():
            # Asked before the NICs go, run after they are gone: their chains and set entries leave.
            sync_for_vm(vm, *([host] if host else []))
            for nic in list(vm.nics.select_related("used_ip")):
                delete_nic(nic)
            vm.delete()
    return {"state": VmState.DESTROYED}
