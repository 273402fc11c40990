"""Operations on router offerings, VIPs, port forwarding rules and EIPs: the only place they change.

Cascades (documented): deleting a VIP deletes its port forwarding rules and its EIP and returns
its address to IPAM; deleting an EIP keeps its VIP; deleting a VM NIC detaches its rules and EIP.

Every change to what a router forwards is applied on the router inside the change's own operation,
a step of its Job: the change commits only once its router holds it, and a router that cannot apply
it fails the change with the router's own error and leaves nothing written. The routers concerned are
held (`routers.locked`) from before the change until it commits, so concurrent changes on one router
apply one after the other.
"""

import functools

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef

from apps.compute.models import VmNic
from apps.core.exceptions import Conflict
from apps.core.jobs import operation
from apps.core.services import create_object, delete_object, update_object
from apps.networks.choices import ServiceType
from apps.networks.ipam import allocate_ip, release_ip

from .models import Eip, PortForwardingRule, VirtualRouterOffering, Vip
from .models.nat import ATTACHABLE_VM_STATES
from .routers import locked, update_routers


def _nic_l3(nic):
    if nic is None:
        return None
    return nic.l3_network_id if isinstance(nic, VmNic) else VmNic.objects.filter(pk=nic).values_list(
        "l3_network_id", flat=True).first()


def _vip_l3s(vip):
    """The guest L3 networks whose routers carry this VIP's rules or EIP."""
    return set(VmNic.objects.filter(port_forwarding_rules__vip=vip).values_list("l3_network_id", flat=True)) | \
        set(VmNic.objects.filter(eip__vip=vip).values_list("l3_network_id", flat=True))


def _routed(l3s_of):
    """Wrap a NAT change: `l3s_of(*args, **kwargs)` names the guest L3s whose routers it touches (read before
    the change); their routers are held around it and applied inside it."""

    def decorate(op):
        @functools.wraps(op)
        def wrapper(*args, **kwargs):
            l3s = l3s_of(*args, **kwargs)
            with locked(l3s):
                return op(*args, _l3s=l3s, **kwargs)

        return wrapper

    return decorate


def _then_update(result, l3s, *more):
    update_routers(set(l3s) | {m for m in more if m})
    return result

# --- Virtual router offerings ----------------------------------------------------------------------


def _take_default(offering_zone, keep=None):
    """Making an offering the zone's default unsets the previous default (one per zone)."""
    VirtualRouterOffering.objects.filter(zone=offering_zone, is_default=True).exclude(pk=getattr(keep, "pk", None)) \
        .update(is_default=False)


@operation("createVirtualRouterOffering")
def create_vr_offering(**fields):
    if fields.get("is_default") and fields.get("zone"):
        _take_default(fields["zone"])
    return create_object(VirtualRouterOffering, fields)


@operation("updateVirtualRouterOffering", target="offering")
def update_vr_offering(offering, **fields):
    if fields.get("is_default"):
        _take_default(offering.zone, keep=offering)
    return update_object(offering, fields, frozen=("zone",))


@operation("deleteVirtualRouterOffering", target="offering")
def delete_vr_offering(offering):
    delete_object(offering)


# --- VIPs ------------------------------------------------------------------------------------------


@operation("createVip")
def create_vip(*, name, l3_network, ip=None, description="", state=None, project=None):
    """A VIP on `l3_network`: the address `ip` if given (409 if taken), else the next free one."""
    from apps.projects.quotas import charge

    charge(project, Vip, {})
    vip = Vip(name=name, l3_network=l3_network, description=description, project=project,
              **({"state": state} if state else {}))
    used = allocate_ip(l3_network, requested=ip, owner=vip)
    vip.used_ip, vip.ip, vip.netmask, vip.gateway = used, used.ip, used.netmask, used.gateway
    vip.full_clean(exclude=["used_ip"])
    vip.save()
    return vip


@_routed(lambda vip, **kw: _vip_l3s(vip))
@operation("updateVip", target="vip")
def update_vip(vip, _l3s=(), **fields):
    if fields.get("ip") not in (None, vip.ip):
        raise ValidationError({"ip": "The IP address of a VIP cannot be changed."})
    fields.pop("ip", None)
    return _then_update(update_object(vip, fields, frozen=("l3_network",)), _l3s)


@_routed(lambda vip, **kw: _vip_l3s(vip))
@operation("deleteVip", target="vip")
def delete_vip(vip, _l3s=()):
    """Deletes its port forwarding rules and its EIP too, and returns the address to IPAM."""
    used = vip.used_ip
    vip.port_forwarding_rules.all().delete()
    Eip.objects.filter(vip=vip).delete()
    delete_object(vip)
    release_ip(used)
    update_routers(_l3s)


def _locked(vip):
    """Serialise rule changes on one VIP (PostgreSQL row lock; SQLite serialises writers anyway)."""
    return Vip.objects.select_for_update().get(pk=vip.pk)


# --- Port forwarding -------------------------------------------------------------------------------


def _rule_l3(rule, **kwargs):
    return {_nic_l3(rule.vm_nic_id)}


@_routed(lambda **fields: {_nic_l3(fields.get("vm_nic"))})
@operation("createPortForwardingRule")
def create_port_forwarding_rule(_l3s=(), **fields):
    if fields.get("vip") is not None:
        fields["vip"] = _locked(fields["vip"])
    return _then_update(create_object(PortForwardingRule, fields), _l3s)


@_routed(_rule_l3)
@operation("updatePortForwardingRule", target="rule")
def update_port_forwarding_rule(rule, _l3s=(), **fields):
    frozen = ("vip", "protocol", "vip_port_start", "vip_port_end", "guest_port_start", "guest_port_end", "vm_nic")
    return _then_update(update_object(rule, fields, frozen=frozen), _l3s)


@_routed(_rule_l3)
@operation("deletePortForwardingRule", target="rule")
def delete_port_forwarding_rule(rule, _l3s=()):
    delete_object(rule)
    update_routers(_l3s)


@_routed(lambda rule, *, vm_nic, **kw: {_nic_l3(vm_nic)})
@operation("attachPortForwardingRule", target="rule")
def attach_port_forwarding_rule(rule, *, vm_nic, _l3s=()):
    _locked(rule.vip)
    if rule.vm_nic_id:
        raise Conflict(f"Rule {rule} is already attached to VM {rule.vm_nic.vm_instance}; detach it first.",
                       field="vm_nic")
    rule.vm_nic = vm_nic
    rule.full_clean()
    rule.save(update_fields=["vm_nic", "updated"])
    return _then_update(rule, _l3s)


@_routed(_rule_l3)
@operation("detachPortForwardingRule", target="rule")
def detach_port_forwarding_rule(rule, _l3s=()):
    if not rule.vm_nic_id:
        raise Conflict(f"Rule {rule} is not attached to a VM NIC.", field="vm_nic")
    rule.vm_nic = None
    rule.save(update_fields=["vm_nic", "updated"])
    return _then_update(rule, _l3s)


def attachable_nics(rule):
    """The NICs `rule` may be attached to, in one query: a Running or Stopped user VM in the VIP's zone,
    on an L3 with PortForwarding other than the VIP's, no overlapping guest ports for the protocol on
    the NIC, the VM holding no rule of another VIP, and on the guest L3 the VIP already serves (if any)."""
    vip = rule.vip
    others = PortForwardingRule.objects.exclude(pk=rule.pk)
    overlapping = others.filter(vm_nic=OuterRef("pk"), protocol=rule.protocol,
                                guest_port_start__lte=rule.guest_port_end, guest_port_end__gte=rule.guest_port_start)
    other_vip = others.filter(vm_nic__vm_instance=OuterRef("vm_instance")).exclude(vip=vip)
    nics = (VmNic.objects.filter(vm_instance__type="UserVm", vm_instance__state__in=ATTACHABLE_VM_STATES,
                                 vm_instance__zone=vip.l3_network.l2_network.zone_id,
                                 l3_network__network_services__service_type=ServiceType.PORT_FORWARDING)
            .exclude(l3_network=vip.l3_network_id)
            .exclude(Exists(overlapping)).exclude(Exists(other_vip)))
    served = others.filter(vip=vip, vm_nic__isnull=False).values_list("vm_nic__l3_network", flat=True)[:1]
    served = list(served)
    if served:
        nics = nics.filter(l3_network=served[0])
    return nics.select_related("vm_instance", "l3_network").order_by("vm_instance__name", "device_index")


# --- EIPs ------------------------------------------------------------------------------------------


def _eip_l3(eip, **kwargs):
    return {_nic_l3(eip.vm_nic_id)}


@_routed(lambda **fields: {_nic_l3(fields.get("vm_nic"))})
@operation("createEip")
def create_eip(_l3s=(), **fields):
    if fields.get("vip") is not None:
        fields["vip"] = _locked(fields["vip"])
    return _then_update(create_object(Eip, fields), _l3s)


@_routed(_eip_l3)
@operation("updateEip", target="eip")
def update_eip(eip, _l3s=(), **fields):
    return _then_update(update_object(eip, fields, frozen=("vip", "vm_nic")), _l3s)


@_routed(_eip_l3)
@operation("deleteEip", target="eip")
def delete_eip(eip, _l3s=()):
    """The VIP stays (delete it to return its address)."""
    delete_object(eip)
    update_routers(_l3s)


@_routed(lambda eip, *, vm_nic, **kw: {_nic_l3(vm_nic)})
@operation("attachEip", target="eip")
def attach_eip(eip, *, vm_nic, _l3s=()):
    if eip.vm_nic_id:
        raise Conflict(f"EIP {eip} is already attached to VM {eip.vm_nic.vm_instance}; detach it first.",
                       field="vm_nic")
    eip.vm_nic = vm_nic
    eip.full_clean()
    eip.save(update_fields=["vm_nic", "updated"])
    return _then_update(eip, _l3s)


@_routed(_eip_l3)
@operation("detachEip", target="eip")
def detach_eip(eip, _l3s=()):
    if not eip.vm_nic_id:
        raise Conflict(f"EIP {eip} is not attached to a VM NIC.", field="vm_nic")
    eip.vm_nic = None
    eip.save(update_fields=["vm_nic", "updated"])
    return _then_update(eip, _l3s)




# --- Virtual routers ---------------------------------------------------------------------------------------


def rebuild_virtual_router(vr, user=None):
    """A job that builds the router again on its host with its whole state."""
    from apps.core.jobs import start_job

    if vr.host_id is None:
        raise Conflict(f"Virtual router {vr.name} has no host; the next VM on {vr.l3_network} boots it.")
    return start_job("rebootVirtualRouter", "apps.vrouter.jobs.boot_router", user=user, target=vr,
                     params={"router": str(vr.pk)}, timeout=300)


def migrate_virtual_router(vr, *, host, user=None):
    """A job that moves the router to `host`, a connected host of the same cluster."""
    from apps.core.jobs import start_job
    from apps.infra.choices import HostStatus

    if vr.host_id is None:
        raise Conflict(f"Virtual router {vr.name} has no host; the next VM on {vr.l3_network} boots it.")
    if host.cluster_id != vr.host.cluster_id:
        raise ValidationError({"host": f"Host {host} is not in cluster {vr.host.cluster}, the router's cluster."})
    if host.status != HostStatus.CONNECTED:
        raise ValidationError({"host": f"Host {host} is {host.status}; the router needs a connected host."})
    if host.pk == vr.host_id:
        raise Conflict(f"Virtual router {vr.name} already runs on {host}.", field="host")
    return start_job("migrateVirtualRouter", "apps.vrouter.jobs.migrate_router", user=user, target=vr,
                     params={"router": str(vr.pk), "host": str(host.pk)}, timeout=300)


@operation("destroyVirtualRouter", target="vr")
def delete_virtual_router(vr):
    from .routers import delete_router

    delete_router(vr)
