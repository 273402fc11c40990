"""The bridge between the database and the compiler: one host's desired state as plain data."""

from collections import defaultdict

from .compile import HostState, Nic, Rule, compile_host
from .models import SecurityGroupNicRef, SecurityGroupRule


def nic_device(nic):
    """The NIC's port on the host bridge (tap or veth): its internal name."""
    return nic.internal_name


def host_state(host):
    """HostState of `host`: its VMs' NICs with their groups, those groups' rules and the members
    of every group that a rule names as its remote. A constant number of queries."""
    refs = (SecurityGroupNicRef.objects.filter(vm_nic__vm_instance__host=host)
            .select_related("vm_nic").order_by("vm_nic_id", "created"))
    nic_groups, nic_rows = defaultdict(list), {}
    for ref in refs:
        nic_rows[ref.vm_nic_id] = ref.vm_nic
        nic_groups[ref.vm_nic_id].append(str(ref.security_group_id))
    group_ids = {gid for gids in nic_groups.values() for gid in gids}
    rules = defaultdict(list)
    remote_ids = set()
    for row in SecurityGroupRule.objects.filter(security_group_id__in=group_ids).order_by("created", "uuid"):
        rule = to_rule(row)
        rules[str(row.security_group_id)].append(rule)
        if rule.remote_group_id:
            remote_ids.add(rule.remote_group_id)
    members = defaultdict(list)
    for gid, ip in (SecurityGroupNicRef.objects.filter(security_group_id__in=remote_ids, vm_nic__ip__isnull=False)
                    .values_list("security_group_id", "vm_nic__ip")):
        members[str(gid)].append(ip)
    dns = _router_addresses([n.l3_network_id for n in nic_rows.values()])
    nics = [
        Nic(id=str(nic.pk), device=nic_device(nic), mac=nic.mac, ips=tuple(ip for ip in [nic.ip] if ip),
            group_ids=tuple(nic_groups[pk]), dns_servers=dns.get(nic.l3_network_id, ()))
        for pk, nic in nic_rows.items()
    ]
    return HostState(nics=nics, rules=dict(rules), members=dict(members))


def to_rule(row):
    return Rule(
        id=str(row.uuid), direction=row.direction, ethertype=row.ethertype, protocol=row.protocol,
        port_min=row.port_range_min, port_max=row.port_range_max, remote_ip_prefix=row.remote_ip_prefix or None,
        remote_group_id=str(row.remote_group_id) if row.remote_group_id else None,
    )


def _router_addresses(l3_ids):
    """The DNS a NIC may always reach: its L3's gateway (the virtual router answers DNS there)."""
    from apps.networks.models import IpRange

    out = defaultdict(tuple)
    for l3_id, gateway in IpRange.objects.filter(l3_network_id__in=set(l3_ids)).values_list("l3_network_id", "gateway"):
        if gateway and gateway not in out[l3_id]:
            out[l3_id] = (*out[l3_id], gateway)
    return out


def host_plan(host):
    return compile_host(host_state(host))
