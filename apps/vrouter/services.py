"""Operations on router offerings, VIPs, port forwarding rules and EIPs: the only place they change.

Cascades (documented): deleting a VIP deletes its port forwarding rules and its EIP and returns
its address to IPAM; deleting an EIP keeps its VIP; deleting a VM NIC detaches its rules and EIP.
"""

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


@operation("updateVip", target="vip")
def update_vip(vip, **fields):
    if fields.get("ip") not in (None, vip.ip):
        raise ValidationError({"ip": "The IP address of a VIP cannot be changed."})
    fields.pop("ip", None)
    return update_object(vip, fields, frozen=("l3_network",))


@operation("deleteVip", target="vip")
def delete_vip(vip):
    """Deletes its port forwarding rules and its EIP too, and returns the address to IPAM."""
    used = vip.used_ip
    vip.port_forwarding_rules.all().delete()
    Eip.objects.filter(vip=vip).delete()
    delete_object(vip)
    release_ip(used)


def _locked(vip):
    """Serialise rule changes on one VIP (PostgreSQL row lock; SQLite serialises writers anyway)."""
    return Vip.objects.select_for_update().get(pk=vip.pk)


# --- Port forwarding -------------------------------------------------------------------------------


@operation("createPortForwardingRule")
def create_port_forwarding_rule(**fields):
    if fields.get("vip") is not None:
        fields["vip"] = _locked(fields["vip"])
    return create_object(PortForwardingRule, fields)


@operation("updatePortForwardingRule", target="rule")
def update_port_forwarding_rule(rule, **fields):
    frozen = ("vip", "protocol", "vip_port_start", "vip_port_end", "guest_port_start", "guest_port_end", "vm_nic")
    return update_object(rule, fields, frozen=frozen)


@operation("deletePortForwardingRule", target="rule")
def delete_port_forwarding_rule(rule):
    delete_object(rule)


@operation("attachPortForwardingRule", target="rule")
def attach_port_forwarding_rule(rule, *, vm_nic):
    _locked(rule.vip)
    if rule.vm_nic_id:
        raise Conflict(f"Rule {rule} is already attached to VM {rule.vm_nic.vm_instance}; detach it first.",
                       field="vm_nic")
    rule.vm_nic = vm_nic
    rule.full_clean()
    rule.save(update_fields=["vm_nic", "updated"])
    return rule


@operation("detachPortForwardingRule", target="rule")
def detach_port_forwarding_rule(rule):
    if not rule.vm_nic_id:
        raise Conflict(f"Rule {rule} is not attached to a VM NIC.", field="vm_nic")
    rule.vm_nic = None
    rule.save(update_fields=["vm_nic", "updated"])
    return rule


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


@operation("createEip")
def create_eip(**fields):
    if fields.get("vip") is not None:
        fields["vip"] = _locked(fields["vip"])
    return create_object(Eip, fields)


@operation("updateEip", target="eip")
def update_eip(eip, **fields):
    return update_object(eip, fields, frozen=("vip", "vm_nic"))


@operation("deleteEip", target="eip")
def delete_eip(eip):
    """The VIP stays (delete it to return its address)."""
    delete_object(eip)


@operation("attachEip", target="eip")
def attach_eip(eip, *, vm_nic):
    if eip.vm_nic_id:
        raise Conflict(f"EIP {eip} is already attached to VM {eip.vm_nic.vm_instance}; detach it first.",
                       field="vm_nic")
    eip.vm_nic = vm_nic
    eip.full_clean()
    eip.save(update_fields=["vm_nic", "updated"])
    return eip


@operation("detachEip", target="eip")
def detach_eip(eip):
    if not eip.vm_nic_id:
        raise Conflict(f"EIP {eip} is not attached to a VM NIC.", field="vm_nic")
    eip.vm_nic = None
    eip.save(update_fields=["vm_nic", "updated"])
    return eip


