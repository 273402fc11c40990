"""Security groups of one host -> a firewall plan (pure: plain data in, plain data out).

The plan is what `workers.host.firewall.apply_plan` converges a host to. It is JSON-friendly:

    {"v4": {"chains": {name: [rule, ...]}}, "v6": {...}, "eb": {...},
     "ipsets": {name: {"family": "inet" | "inet6", "members": [...]}},
     "groups": {group_id: {"chains": [ingress, egress], "rules": [rule as plain data, ...]}},
     "nics": {nic_id: {"device", "ips", "mac", "chains", "l2_chain", "groups", "egress_default"}},
     "scope": {"chains": [every chain name the plan covers], "widening": bool}}   (a part of the host only)

Rules are written exactly as `iptables-save` (`ebtables-save` for "eb") prints them, so a read-back
compares line by line.

Layout (filter table, IPv4 and IPv6 alike). Group rules live once per host in the group's own
chains, so a rule change rewrites one chain whatever the number of NICs; adding a NIC writes its
three small chains and one dispatch line in each of the shared chains.

    FORWARD --(one jump)--> nimbo-FORWARD: traffic bridged to or from a filtered NIC -> nimbo-sg
    nimbo-sg   from the NIC (--physdev-in):  nimbo-s-<nic> (defaults: anti-spoofing, DHCP discovery),
                                             then nimbo-o-<nic> (egress)
               then nimbo-in
    nimbo-in   to the NIC (--physdev-out):   nimbo-i-<nic> (ingress), then ACCEPT
    nimbo-i-<nic>  established/related, DHCP replies (ICMPv6 ND/RA), then each group's
                   nimbo-gi-<group> (its ingress rules, ACCEPT), then DROP
    nimbo-o-<nic>  DHCP, established/related, DNS to the router, ICMPv6 ND: on to nimbo-in; then, only
                   when the NIC's groups hold egress rules, each nimbo-ge-<group> (allowed: on to
                   nimbo-in) and DROP; otherwise everything leaves
    Egress is checked before ingress, and an allowed egress jumps straight to the ingress checks of the
    destination, so two filtered NICs on one host both have their say and every verdict is final.

Link layer (ebtables, the bridge's nat table, "eb" in the plan): a guest must not teach its
neighbours or the bridge a false address. Its frames are checked as they enter the bridge
(PREROUTING), before the bridge learns their source MAC (a frame dropped in FORWARD would already
have moved another guest's MAC onto the sender's port) and whether they are forwarded or meant
for the host itself:

    PREROUTING --(one jump)--> nimbo-PREROUTING --(-i <nic device>)--> nimbo-l-<nic>
    nimbo-l-<nic>  Ethernet source not the NIC's MAC: DROP; ARP whose sender MAC is not the NIC's
                   MAC: DROP; ARP whose sender IP is one of the NIC's IPv4 addresses or 0.0.0.0
                   (address probes while DHCP runs): RETURN; any other ARP: DROP

Remote-group rules match one ipset per group and family (`nimbo-g<group>-4`/`-6`), so a
membership change rewrites the set only. A NIC in no group gets no chain at all.
"""

import functools
import ipaddress
from dataclasses import dataclass, field

from workers.host.sgnames import (
    ICMP_PROTOCOLS,
    IN_CHAIN,
    L2_TOP_CHAIN,
    PORT_PROTOCOLS,
    PROTOCOL_NAMES,
    SG_CHAIN,
    TOP_CHAIN,
    group_chains,
    ipset_name,
    l2_chain,
    nic_chains,
)

FAMILIES = ("v4", "v6")
ETHERTYPE_FAMILY = {"IPv4": "v4", "IPv6": "v6"}
# A TCP segment that is not a SYN yet has no conntrack entry (its entry was deleted with the rule
# that allowed it): never let conntrack pick the stream up again half-way.
MIDSTREAM = "-p tcp -m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN -m conntrack --ctstate NEW"


@dataclass(frozen=True)
class Rule:
    """One security group rule in the neutral (Neutron-like) form.

    protocol: None (any) or an IP protocol number; ICMP rules carry the type in port_min and
    the code in port_max (None = any). A rule has at most one remote: a prefix or a group.
    """

    id: str
    direction: str  # "ingress" | "egress"
    ethertype: str  # "IPv4" | "IPv6"
    protocol: int | None = None
    port_min: int | None = None
    port_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None

    @property
    def family(self):
        return ETHERTYPE_FAMILY[self.ethertype]


@dataclass(frozen=True)
class Nic:
    """A VM NIC on this host: its bridge port device, MAC, addresses and groups."""

    id: str
    device: str
    mac: str
    ips: tuple = ()
    group_ids: tuple = ()
    dns_servers: tuple = ()  # the router's addresses the NIC may always ask for DNS
    # Where the NIC's lines go in the dispatch chains (then by id): its creation time, so that a new
    # NIC's lines come last and the applier adds them without rewriting the chains.
    order: str = ""


@dataclass
class HostState:
    """Everything the compiler needs for one host."""

    nics: list
    rules: dict  # group id -> [Rule]
    members: dict = field(default_factory=dict)  # group id -> [IP] of every NIC in the group
    # {(group id, "v4" | "v6")} of the remote-group sets the host's rules use; None: found from `rules`
    remotes: set | None = None


def is_v6(address):
    return ":" in address


def _host_prefix(address):
    address = address.split("/")[0]
    return f"{address}/128" if is_v6(address) else f"{address}/32"


@functools.lru_cache(maxsize=65536)
def _canonical_prefix(prefix):
    """A CIDR as iptables-save prints it (0.0.0.0/0 and ::/0 are omitted entirely)."""

    network = ipaddress.ip_network(prefix, strict=False)
    if network.prefixlen == 0:
        return None
    return str(network)


def protocol_name(number):
    return PROTOCOL_NAMES.get(number, str(number))


@functools.lru_cache(maxsize=262144)
def rule_match(rule, members_set=None):
    """The match part of an iptables rule for one security group rule (without -A/-j).

    Cached: a host recompiled after one change formats only the rules it has not seen."""
    parts = []
    remote_flag = "-s" if rule.direction == "ingress" else "-d"
    if rule.remote_ip_prefix:
        prefix = _canonical_prefix(rule.remote_ip_prefix)
        if prefix:
            parts.append(f"{remote_flag} {prefix}")
    proto = rule.protocol
    if proto is not None:
        if proto in ICMP_PROTOCOLS:
            proto = 58 if rule.family == "v6" else 1
        name = protocol_name(proto)
        parts.append(f"-p {name}")
        if proto in PORT_PROTOCOLS and rule.port_min is not None:
            lo, hi = rule.port_min, rule.port_max if rule.port_max is not None else rule.port_min
            ports = str(lo) if lo == hi else f"{lo}:{hi}"
            parts.append(f"-m {name} --dport {ports}")
        elif proto in ICMP_PROTOCOLS and rule.port_min is not None and rule.port_min >= 0:
            kind = "icmp6 --icmpv6-type" if proto == 58 else "icmp --icmp-type"
            code = f"/{rule.port_max}" if rule.port_max is not None and rule.port_max >= 0 else ""
            parts.append(f"-m {kind} {rule.port_min}{code}")
    if members_set:
        parts.append(f"-m set --match-set {members_set} {'src' if rule.direction == 'ingress' else 'dst'}")
    parts.append(f'-m comment --comment "r:{rule.id}"')
    return " ".join(parts)


def _ingress_chain(chain, group_ids, family):
    lines = [
        f"-A {chain} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        f"-A {chain} -m conntrack --ctstate INVALID -j DROP",
        f"-A {chain} {MIDSTREAM} -j DROP",
    ]
    if family == "v4":
        lines.append(f"-A {chain} -p udp -m udp --sport 67 --dport 68 -j ACCEPT")
    else:
        lines += [f"-A {chain} -p ipv6-icmp -m icmp6 --icmpv6-type {t} -j ACCEPT"
                  for t in (130, 131, 132, 134, 135, 136)]
        lines.append(f"-A {chain} -p udp -m udp --sport 547 --dport 546 -j ACCEPT")
    lines += [f"-A {chain} -j {group_chains(gid)[0]}" for gid in group_ids]
    lines.append(f"-A {chain} -j DROP")
    return lines


def _spoof_chain(chain, nic, family):
    mac = nic.mac.lower()
    lines = []
    if family == "v4":
        lines.append(
            f"-A {chain} -s 0.0.0.0/32 -d 255.255.255.255/32 -p udp -m udp --sport 68 --dport 67 "
            f"-m mac --mac-source {mac} -j RETURN"
        )
        sources = [_host_prefix(ip) for ip in nic.ips if not is_v6(ip)]
    else:
        # Link-local addresses and duplicate address detection (from ::) keep IPv6 working.
        sources = ["fe80::/64", "::/128"] + [_host_prefix(ip) for ip in nic.ips if is_v6(ip)]
    lines += [f"-A {chain} -s {src} -m mac --mac-source {mac} -j RETURN" for src in sources]
    lines.append(f"-A {chain} -j DROP")
    return lines


def _l2_chain(chain, nic):
    """Frames from the NIC: its own MAC only; ARP only about its own addresses (as ebtables-save prints it)."""
    mac = nic.mac.lower()
    lines = [f"-A {chain} -s ! {mac} -j DROP", f"-A {chain} -p ARP --arp-mac-src ! {mac} -j DROP"]
    senders = dict.fromkeys(ip.split("/")[0] for ip in nic.ips if not is_v6(ip))
    lines += [f"-A {chain} -p ARP --arp-ip-src {ip} -j RETURN" for ip in (*senders, "0.0.0.0")]
    lines.append(f"-A {chain} -p ARP -j DROP")
    return lines


def _egress_chain(chain, nic, group_ids, family, default_allow):
    """Allowed traffic goes on to the destination's ingress checks (nimbo-in), which end it."""
    lines = []
    if family == "v4":
        lines.append(f"-A {chain} -p udp -m udp --sport 68 --dport 67 -j {IN_CHAIN}")
        lines.append(f"-A {chain} -p udp -m udp --sport 67 --dport 68 -j DROP")  # no rogue DHCP server
    else:
        lines += [f"-A {chain} -p ipv6-icmp -m icmp6 --icmpv6-type {t} -j {IN_CHAIN}"
                  for t in (130, 131, 132, 133, 135, 136, 143)]
        lines.append(f"-A {chain} -p udp -m udp --sport 546 --dport 547 -j {IN_CHAIN}")
        lines.append(f"-A {chain} -p ipv6-icmp -m icmp6 --icmpv6-type 134 -j DROP")  # no rogue router
    lines.append(f"-A {chain} -m conntrack --ctstate RELATED,ESTABLISHED -j {IN_CHAIN}")
    lines.append(f"-A {chain} -m conntrack --ctstate INVALID -j DROP")
    lines.append(f"-A {chain} {MIDSTREAM} -j DROP")
    for server in nic.dns_servers:
        if is_v6(server) == (family == "v6"):
            for proto in ("udp", "tcp"):
                lines.append(f"-A {chain} -d {_host_prefix(server)} -p {proto} -m {proto} --dport 53 -j {IN_CHAIN}")
    if not default_allow:
        lines += [f"-A {chain} -j {group_chains(gid)[1]}" for gid in group_ids]
        lines.append(f"-A {chain} -j DROP")
    return lines


def _group_chain(chain, rules, sets, verdict):
    used = tuple(sorted((gid, name) for gid, name in sets.items() if any(r.remote_group_id == gid for r in rules)))
    return list(_group_lines(chain, tuple(rules), used, verdict))


@functools.lru_cache(maxsize=4096)
def _group_lines(chain, rules, sets, verdict):
    """A group's chain; cached, so recompiling a host after one change rebuilds only what changed."""
    sets = dict(sets)
    return tuple(f"-A {chain} {rule_match(rule, sets.get(rule.remote_group_id))} -j {verdict}" for rule in rules)


@dataclass(frozen=True)
class Scope:
    """What a change touched on a host: these NICs and groups get their chains compiled again.

    `members`: groups whose membership changed; the groups whose rules name them as their remote
    come along (their sets change, and their NICs' open connections are checked again). So do the
    NICs of a named group and the groups of a named NIC (`scope_closure`). A NIC or group that no
    longer has anything on the host loses its chains there."""

    nics: frozenset = frozenset()
    groups: frozenset = frozenset()
    members: frozenset = frozenset()
    # The rules added by changes that only added rules (to `groups`): when nothing else changed and
    # no NIC loses its open egress by them, nothing that was allowed is refused now, and the applier
    # need not look for connections to cut.
    added_rules: frozenset = frozenset()
    only_additions: bool = False


def groups_naming(rules, group_ids):
    """The groups of `rules` (group id -> [Rule]) holding a rule whose remote is one of `group_ids`."""
    return {gid for gid, group_rules in rules.items() if any(r.remote_group_id in group_ids for r in group_rules)}


def scope_closure(nics, scope, naming=()):
    """What a scope compiles on a host whose filtered NICs are `nics`: (NIC ids whose chains are
    compiled, group ids whose chains are compiled, group ids whose rules are needed).

    A named group brings its NICs (their open egress may end or start; their connections are
    checked); a named NIC brings its groups (the first NIC of a group on the host brings its chains);
    `naming`, the host's groups whose rules name a group of `scope.members` (`groups_naming`), brings
    its NICs, whose connections are checked against the new members. Checking a NIC's connections
    needs the rules of all its groups."""
    named = set(scope.groups) | set(naming)
    nic_ids = set(scope.nics) | {n.id for n in nics if named.intersection(n.group_ids)}
    chain_groups = set(scope.groups) | {gid for n in nics if n.id in scope.nics for gid in n.group_ids}
    rule_groups = chain_groups | {gid for n in nics if n.id in nic_ids for gid in n.group_ids}
    return nic_ids, chain_groups, rule_groups


def scope_chains(nic_ids, group_ids):
    """Every chain name a scope owns: what the applier may rewrite or remove, and nothing else."""
    names = [TOP_CHAIN, SG_CHAIN, IN_CHAIN, L2_TOP_CHAIN]
    for nic_id in nic_ids:
        names += [*nic_chains(nic_id), l2_chain(nic_id)]
    for gid in group_ids:
        names += group_chains(gid)
    return sorted(set(names))


def compile_host(state, scope=None):
    """The firewall plan of one host from its NICs, their groups' rules and the members.

    Without a scope: the whole host. With one (`Scope`): the chains of the NICs and groups it names
    and, always, the dispatch chains and the sets (a few lines per NIC, a few addresses per set),
    so that the cost follows the size of the change, not of the host. `state.rules` then needs the
    rules of the scope's groups only, and `state.remotes` the remote-group sets the whole host uses.
    The plan says what it covers in plan["scope"]["chains"]; the applier leaves every other chain
    as it is."""
    plan = {"v4": {"chains": {}}, "v6": {"chains": {}}, "eb": {"chains": {}}, "ipsets": {}, "nics": {}, "groups": {}}
    filtered = sorted((n for n in state.nics if n.group_ids), key=lambda n: (n.order, n.id))
    used_groups = sorted({gid for nic in filtered for gid in nic.group_ids})
    if scope is None:
        chain_nics, chain_groups, data_groups = filtered, used_groups, used_groups
    else:
        naming = groups_naming(state.rules, scope.members) if scope.members else ()
        nic_ids, group_ids, rule_groups = scope_closure(filtered, scope, naming)
        chain_nics = [n for n in filtered if n.id in nic_ids]
        chain_groups = [gid for gid in used_groups if gid in group_ids]
        data_groups = [gid for gid in used_groups if gid in rule_groups]
        plan["scope"] = {"chains": scope_chains(nic_ids, group_ids), "widening": False}
    if state.remotes is not None:
        remotes = state.remotes
    else:
        remotes = {(r.remote_group_id, r.family) for gid in used_groups for r in state.rules.get(gid, ())
                   if r.remote_group_id}
    needed_sets = {key: ipset_name(*key) for key in remotes}
    for (gid, family), name in sorted(needed_sets.items(), key=lambda kv: kv[1]):
        members = sorted({ip.split("/")[0] for ip in state.members.get(gid, ()) if is_v6(ip) == (family == "v6")})
        plan["ipsets"][name] = {"family": "inet6" if family == "v6" else "inet", "members": members}
    for gid in data_groups:
        rules = [_rule_data(r, needed_sets.get((r.remote_group_id, r.family)) if r.remote_group_id else None)
                 for r in state.rules.get(gid, ())]
        plan["groups"][gid] = {"chains": list(group_chains(gid)), "rules": rules}

    # Egress is open for a NIC until one of its groups holds an egress rule.
    egress_groups = {gid for gid in data_groups if any(r.direction == "egress" for r in state.rules.get(gid, ()))}
    for family in FAMILIES:
        chains = plan[family]["chains"]
        sets = {gid: name for (gid, fam), name in needed_sets.items() if fam == family}
        for gid in chain_groups:
            fam_rules = [r for r in state.rules.get(gid, ()) if r.family == family]
            gin, gout = group_chains(gid)
            chains[gin] = _group_chain(gin, [r for r in fam_rules if r.direction == "ingress"], sets, "ACCEPT")
            chains[gout] = _group_chain(gout, [r for r in fam_rules if r.direction == "egress"], sets, IN_CHAIN)
        top, sg, into = [], [], []
        for nic in filtered:
            ingress, spoof, egress = nic_chains(nic.id)
            dev = nic.device
            top.append(f"-A {TOP_CHAIN} -m physdev --physdev-out {dev} --physdev-is-bridged -j {SG_CHAIN}")
            top.append(f"-A {TOP_CHAIN} -m physdev --physdev-in {dev} --physdev-is-bridged -j {SG_CHAIN}")
            sg.append(f"-A {SG_CHAIN} -m physdev --physdev-in {dev} --physdev-is-bridged -j {spoof}")
            sg.append(f"-A {SG_CHAIN} -m physdev --physdev-in {dev} --physdev-is-bridged -j {egress}")
            into.append(f"-A {IN_CHAIN} -m physdev --physdev-out {dev} --physdev-is-bridged -j {ingress}")
        for nic in chain_nics:
            ingress, spoof, egress = nic_chains(nic.id)
            default_allow = egress_groups.isdisjoint(nic.group_ids)
            chains[ingress] = _ingress_chain(ingress, nic.group_ids, family)
            chains[spoof] = _spoof_chain(spoof, nic, family)
            chains[egress] = _egress_chain(egress, nic, nic.group_ids, family, default_allow)
            if family == "v4":
                plan["nics"][nic.id] = {
                    "device": nic.device,
                    "mac": nic.mac.lower(),
                    "ips": list(nic.ips),
                    "chains": [ingress, spoof, egress],
                    "l2_chain": l2_chain(nic.id),
                    "groups": list(nic.group_ids),
                    "egress_default": default_allow,
                }
        if family == "v4" and scope is not None and scope.only_additions:
            plan["scope"]["widening"] = not _open_egress_ends(chain_nics, state.rules, egress_groups,
                                                              scope.added_rules)
        if filtered:
            sg.append(f"-A {SG_CHAIN} -j {IN_CHAIN}")
            into.append(f"-A {IN_CHAIN} -j ACCEPT")
            chains[TOP_CHAIN] = top
            chains[SG_CHAIN] = sg
            chains[IN_CHAIN] = into
    if filtered:
        l2 = plan["eb"]["chains"]
        l2[L2_TOP_CHAIN] = [f"-A {L2_TOP_CHAIN} -i {nic.device} -j {l2_chain(nic.id)}" for nic in filtered]
        for nic in chain_nics:
            l2[l2_chain(nic.id)] = _l2_chain(l2_chain(nic.id), nic)
    return plan


def _open_egress_ends(nics, rules, egress_groups, added):
    """Whether the rules `added` give one of `nics` its first egress rules (its open egress ends)."""
    before = {gid for gid in egress_groups if any(r.direction == "egress" and r.id not in added for r in rules[gid])}
    return any(not egress_groups.isdisjoint(n.group_ids) and before.isdisjoint(n.group_ids) for n in nics)


@functools.lru_cache(maxsize=262144)
def _rule_data(rule, remote_set):
    """A rule as plain data, for the applier's conntrack clean-up (which flows a rule allowed).
    Cached (rules never change): callers must not modify the dict."""
    return {
        "id": rule.id,
        "direction": rule.direction,
        "family": rule.family,
        "protocol": rule.protocol,
        "port_min": rule.port_min,
        "port_max": rule.port_max,
        "remote_ip_prefix": rule.remote_ip_prefix,
        "remote_set": remote_set,
    }
