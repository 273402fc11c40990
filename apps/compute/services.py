"""Operations on instance offerings and VM records (create_vm, create_nic, delete_nic, delete_vm)."""

from django.db.models import Max

from apps.core.exceptions import Conflict, InvalidInput
from apps.core.jobs import operation
from apps.core.services import create_object, delete_object, update_object

from .choices import GuestKind, VmState, VmType
from .models import InstanceOffering, VmInstance, VmNic, generate_mac


@operation("createInstanceOffering")
def create_instance_offering(**fields):
    return create_object(InstanceOffering, fields)


@operation("updateInstanceOffering", target="offering")
def update_instance_offering(offering, **fields):
    return update_object(offering, fields)


@operation("deleteInstanceOffering", target="offering")
def delete_instance_offering(offering):
    delete_object(offering)


# --- VM records and their NICs ---------------------------------------------------------------------
# The VM lifecycle (placement, boot, stop, destroy) builds on these: create_vm records a VM in state
# Created with its NICs' addresses and MACs allocated, and boots nothing.


def create_nic(vm, l3, *, ip=None, device_index=None):
    """Add a NIC on `l3` to `vm`: an address from IPAM (`ip` to ask for one), a fresh unique MAC.

    Not an operation of its own: call it inside one (it joins the caller's transaction).
    """
    from apps.networks.ipam import allocate_ip

    if device_index is None:
        device_index = (vm.nics.aggregate(m=Max("device_index"))["m"] + 1) if vm.nics.exists() else 0
    nic = VmNic(vm_instance=vm, l3_network=l3, device_index=device_index)
    for _ in range(5):  # a random 40-bit MAC clashes almost never; when it does, draw again
        if not VmNic.objects.filter(mac=nic.mac).exists():
            break
        nic.mac = generate_mac()
    used = allocate_ip(l3, requested=ip, owner=nic)
    nic.used_ip, nic.ip, nic.netmask, nic.gateway = used, used.ip, used.netmask, used.gateway
    nic.full_clean(exclude=["used_ip"])
    nic.save()
    return nic


def delete_nic(nic):
    """Remove a NIC and return its address to IPAM (port forwarding rules and EIPs on it are detached)."""
    from apps.networks.ipam import release_ip

    used = nic.used_ip
    nic.delete()
    release_ip(used)


@operation("createVmInstance")
def create_vm(*, name, l3_networks, instance_offering=None, image=None, hostname="", description="",
              type=VmType.USER, zone=None, static_ips=None, guest_kind=GuestKind.LIBVIRT, project=None):
    """Record a VM and its NICs (one per L3 network, in order; device index = position) in state Created.

    `static_ips`: {L3 network uuid (str): address} for NICs that need a given address.
    Rules: at least one L3; no L3 twice; every L3 in one zone (the VM's); no System L3 for a user VM;
    a user VM needs an offering and a non-System image. Boots nothing.
    """
    l3_networks = list(l3_networks or [])
    static_ips = {str(k): v for k, v in (static_ips or {}).items()}
    if not l3_networks:
        raise InvalidInput("A VM needs at least one L3 network.", field="l3_networks")
    seen = set()
    for l3 in l3_networks:
        if l3.pk in seen:
            raise InvalidInput(f"L3 network {l3} is given twice.", field="l3_networks")
        seen.add(l3.pk)
        if type == VmType.USER and l3.system:
            raise InvalidInput(f"L3 network {l3} is a System network; user VMs cannot use it.", field="l3_networks")
    zone = zone or l3_networks[0].l2_network.zone
    for l3 in l3_networks:
        if l3.l2_network.zone_id != zone.pk:
            raise InvalidInput(f"L3 network {l3} is not in zone {zone}.", field="l3_networks")
    unknown = set(static_ips) - {str(l3.pk) for l3 in l3_networks}
    if unknown:
        raise InvalidInput(f"Static IP given for an L3 network the VM is not on: {sorted(unknown)[0]}.",
                           field="static_ips")
    vm = create_object(VmInstance, {"name": name, "description": description, "hostname": hostname, "type": type,
                                    "instance_offering": instance_offering, "image": image, "zone": zone,
                                    "state": VmState.CREATED, "guest_kind": guest_kind, "project": project})
    from apps.vrouter.routers import reserve_router

    for index, l3 in enumerate(l3_networks):
        create_nic(vm, l3, ip=static_ips.get(str(l3.pk)), device_index=index)
        if type == VmType.USER:
            reserve_router(l3)  # the router's address too, in this transaction: a burst cannot take it
    return vm


@operation("updateVmInstance", target="vm")
def update_vm(vm, **fields):
    return update_object(vm, fields, frozen=("type", "zone"))


@operation("deleteVmInstance", target="vm")
def delete_vm(vm):
    """Delete a VM record that runs nowhere: its NICs go and their addresses return to IPAM."""
    if vm.host_id or vm.state in (VmState.RUNNING, VmState.STARTING, VmState.STOPPING):
        raise Conflict(f"VM {vm} is {vm.state} on a host; stop or destroy it first.", field="state")
    for nic in list(vm.nics.select_related("used_ip")):
        delete_nic(nic)
    delete_object(vm)
