"""Operations on security groups: the only place their state changes.

Every change raises the group's revision number and, once committed, asks for the firewall
sync of exactly the hosts it affects (apps.secgroups.sync).
"""

from django.db.models import F
from django.utils import timezone

from apps.core.exceptions import Conflict, InUse, InvalidInput
from apps.core.jobs import operation
from apps.core.services import create_object, delete_object, update_object

from .choices import Direction, Ethertype
from .models import SecurityGroup, SecurityGroupL3NetworkRef, SecurityGroupNicRef, SecurityGroupRule
from .sync import hosts_of_groups, hosts_of_nics, request_sync

RULE_FIELDS = ("direction", "ethertype", "protocol", "port_range_min", "port_range_max", "remote_ip_prefix",
               "remote_group", "description")


def _bump(group):
    SecurityGroup.objects.filter(pk=group.pk).update(revision_number=F("revision_number") + 1, updated=timezone.now())
    group.refresh_from_db(fields=["revision_number", "updated"])


@operation("createSecurityGroup")
def create_security_group(user=None, **fields):
    """A new group with the two default egress rules (all IPv4, all IPv6), both visible and deletable."""
    fields.pop("owner", None)
    owner = user if getattr(user, "is_authenticated", False) else None
    group = create_object(SecurityGroup, {**fields, "owner": owner})
    for ethertype in (Ethertype.IPV4, Ethertype.IPV6):
        rule = SecurityGroupRule(security_group=group, direction=Direction.EGRESS, ethertype=ethertype)
        rule.full_clean()
        rule.save()
    return group


@operation("updateSecurityGroup", target="group")
def update_security_group(group, **fields):
    fields.pop("owner", None)
    update_object(group, fields)
    _bump(group)
    return group


@operation("deleteSecurityGroup", target="group")
def delete_security_group(group, force=False):
    """Refused (409) while NICs are in the group, unless forced: then they leave it first."""
    count = group.nic_refs.count()
    if count and not force:
        raise InUse(f"Security group {group} still holds {count} VM NIC{'s' if count != 1 else ''}; "
                    "remove them first or delete with force=true.")
    group_id = group.pk  # the instance forgets its pk once deleted
    hosts = hosts_of_groups([group_id], include_remote_users=True)
    nics = list(group.nic_refs.values_list("vm_nic_id", flat=True))
    group.nic_refs.all().delete()
    group.rules.all().delete()  # its own rules may name the group itself as their remote
    delete_object(group)
    request_sync(hosts, nics=nics, groups=[group_id], members=[group_id])


def _new_rule(group, data):
    data = {k: v for k, v in data.items() if k in RULE_FIELDS}
    rule = SecurityGroupRule(security_group=group, **data)
    rule.full_clean(validate_constraints=False)  # duplicates: add_rules says which rule; the database guarantees
    return rule


@operation("addSecurityGroupRule", target="group")
def add_rules(group, rules):
    """Add rules (dicts of the stored fields); a rule the group already holds is a 409 naming it."""
    new = []
    existing = {r.match_key(): r for r in group.rules.all()}
    for data in rules:
        rule = _new_rule(group, data)
        key = rule.match_key()
        if key in existing:
            raise Conflict(f"Security group rule already exists. Rule id is {existing[key].uuid}.", code="duplicate")
        existing[key] = rule
        new.append(rule)
    for rule in new:
        rule.save()
    _bump(group)
    request_sync(hosts_of_groups([group.pk]), groups=[group.pk], added_rules=[rule.pk for rule in new])
    return new


def add_rule(group, user=None, **data):
    return add_rules(group, [data], user=user)[0]


@operation("deleteSecurityGroupRule", target="rule")
def delete_rule(rule):
    group = rule.security_group
    delete_object(rule)
    _bump(group)
    request_sync(hosts_of_groups([group.pk]), groups=[group.pk])


@operation("attachSecurityGroupToL3Network", target="group")
def attach_l3(group, l3_network):
    from apps.networks.choices import ServiceType

    if not l3_network.network_services.filter(service_type=ServiceType.SECURITY_GROUP).exists():
        raise InvalidInput(f"L3 network {l3_network} does not offer the SecurityGroup service.", field="l3_network")
    if group.l3_refs.filter(l3_network=l3_network).exists():
        raise Conflict(f"Security group {group} is already attached to L3 network {l3_network}.",
                       field="l3_network", code="duplicate")
    SecurityGroupL3NetworkRef.objects.create(security_group=group, l3_network=l3_network)
    _bump(group)
    return group


@operation("detachSecurityGroupFromL3Network", target="group")
def detach_l3(group, l3_network):
    ref = group.l3_refs.filter(l3_network=l3_network).first()
    if ref is None:
        raise InvalidInput(f"Security group {group} is not attached to L3 network {l3_network}.", field="l3_network")
    count = group.nic_refs.filter(vm_nic__l3_network=l3_network).count()
    if count:
        raise InUse(f"Security group {group} still holds {count} VM NIC{'s' if count != 1 else ''} "
                    f"on L3 network {l3_network}; remove them first.", field="l3_network")
    ref.delete()
    _bump(group)
    return group


@operation("addVmNicToSecurityGroup", target="group")
def add_nics(group, nics):
    """NICs join the group; each NIC's L3 must be attached to the group."""
    attached = set(group.l3_refs.values_list("l3_network_id", flat=True))
    members = set(group.nic_refs.values_list("vm_nic_id", flat=True))
    for nic in nics:
        if group.project_id and nic.vm_instance.project_id not in (None, group.project_id):
            raise InvalidInput(f"VM NIC {nic} is not in the project of security group {group}.", field="nics")
        if nic.l3_network_id not in attached:
            raise InvalidInput(f"VM NIC {nic} is on L3 network {nic.l3_network}, which security group {group} "
                               "is not attached to.", field="nics")
        if nic.pk in members:
            raise Conflict(f"VM NIC {nic} is already in security group {group}.", field="nics", code="duplicate")
        members.add(nic.pk)
    SecurityGroupNicRef.objects.bulk_create([SecurityGroupNicRef(security_group=group, vm_nic=nic) for nic in nics])
    _bump(group)
    request_sync(hosts_of_nics(nics) | hosts_of_groups([group.pk], remote_only=True),
                 nics=[nic.pk for nic in nics], groups=[group.pk], members=[group.pk])
    return group


@operation("removeVmNicFromSecurityGroup", target="group")
def remove_nics(group, nics):
    members = set(group.nic_refs.values_list("vm_nic_id", flat=True))
    for nic in nics:
        if nic.pk not in members:
            raise InvalidInput(f"VM NIC {nic} is not in security group {group}.", field="nics")
    group.nic_refs.filter(vm_nic__in=nics).delete()
    _bump(group)
    request_sync(hosts_of_nics(nics) | hosts_of_groups([group.pk], remote_only=True),
                 nics=[nic.pk for nic in nics], groups=[group.pk], members=[group.pk])
    return group
