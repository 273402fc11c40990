"""The bridge between the database and the compiler: one host's desired state as plain data."""

from collections import defaultdict

from .compile import ETHERTYPE_FAMILY, HostState, Nic, Rule, compile_host, scope_closure
from .models import SecurityGroupNicRef, SecurityGroupRule

RULE_COLUMNS = ("security_group_id", "uuid", "direction", "ethertype", "protocol", "port_range_min", "port_range_max",
                "remote_ip_prefix", "remote_group_id")


def host_state(host, scope=None):
    """HostState of `host`: its VMs' NICs with their groups, those groups' rules and the members
    of every group that a rule names as its remote. A constant number of queries, read as plain
    values (no model instances: a host may hold tens of thousands of rules).

    With a `Scope` (compile.Scope), only the rules the scope compiles are read: those of the groups
    it names or reaches (compile.scope_closure), so the cost follows the change, not the host."""
    refs = (SecurityGroupNicRef.objects.filter(vm_nic__vm_instance__host=host).order_by("vm_nic_id", "created")
            .values_list("vm_nic_id", "security_group_id", "vm_nic__internal_name", "vm_nic__mac", "vm_nic__ip",
                         "vm_nic__l3_network_id", "vm_nic__created"))
    nic_groups, nic_rows = defaultdict(list), {}
    for nic_id, group_id, device, mac, ip, l3_id, created in refs:
        nic_rows[nic_id] = (device, mac, ip, l3_id, created)
        nic_groups[nic_id].append(str(group_id))
    used = {gid for gids in nic_groups.values() for gid in gids}
    dns = _router_addresses([row[3] for row in nic_rows.values()])
    nics = [
        Nic(id=str(pk), device=device, mac=mac, ips=tuple(a for a in [ip] if a), group_ids=tuple(nic_groups[pk]),
            dns_servers=dns.get(l3_id, ()), order=created.isoformat() if created else "")
        for pk, (device, mac, ip, l3_id, created) in nic_rows.items()
    ]
    remotes = None
    if scope is None:
        wanted = used
    else:
        naming = {str(gid) for gid in SecurityGroupRule.objects.filter(
            security_group_id__in=used, remote_group_id__in=scope.members).order_by()
            .values_list("security_group_id", flat=True).distinct()} if scope.members else set()
        wanted = used & scope_closure(nics, scope, naming)[2]
        remotes = {(str(gid), ETHERTYPE_FAMILY[ethertype]) for gid, ethertype in
                   SecurityGroupRule.objects.filter(security_group_id__in=used, remote_group__isnull=False)
                   .order_by().values_list("remote_group_id", "ethertype").distinct()}
    rules = defaultdict(list)
    for row in (SecurityGroupRule.objects.filter(security_group_id__in=wanted).order_by("created", "uuid")
                .values_list(*RULE_COLUMNS)):
        rules[str(row[0])].append(to_rule(*row[1:]))
    if remotes is None:
        remotes = {(r.remote_group_id, r.family) for group_rules in rules.values() for r in group_rules
                   if r.remote_group_id}
    members = defaultdict(list)
    for gid, ip in (SecurityGroupNicRef.objects.filter(security_group_id__in={g for g, _ in remotes},
                                                       vm_nic__ip__isnull=False)
                    .values_list("security_group_id", "vm_nic__ip")):
        members[str(gid)].append(ip)
    return HostState(nics=nics, rules=dict(rules), members=dict(members), remotes=remotes)


def to_rule(uuid, direction, ethertype, protocol, port_min, port_max, remote_ip_prefix, remote_group_id):
    """A stored rule's columns (RULE_COLUMNS without the group) as the compiler's Rule."""
    return Rule(id=str(uuid), direction=direction, ethertype=ethertype, protocol=protocol, port_min=port_min,
                port_max=port_max, remote_ip_prefix=remote_ip_prefix or None,
                remote_group_id=str(remote_group_id) if remote_group_id else None)


def _router_addresses(l3_ids):
    """The DNS a NIC may always reach: its L3's gateway (the virtual router answers DNS there)."""
    from apps.networks.models import IpRange

    out = defaultdict(tuple)
    for l3_id, gateway in IpRange.objects.filter(l3_network_id__in=set(l3_ids)).values_list("l3_network_id", "gateway"):
        if gateway and gateway not in out[l3_id]:
            out[l3_id] = (*out[l3_id], gateway)
    return out


def host_plan(host, scope=None):
    """The plan of the whole host, or of the part a `Scope` names."""
    return compile_host(host_state(host, scope), scope)
