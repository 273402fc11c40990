"""The compiler alone: plain data in, a firewall plan out (no root, no database)."""

import pytest

from apps.secgroups.compile import (HostState, Nic, Rule, Scope, compile_host, group_chains, ipset_name, l2_chain,
                                    nic_chains, rule_match)
from tests.support.sglab import Lab
from workers.host import firewall

NIC = "5b1d6a3e-7c1f-4a8e-9d1e-0a1b2c3d4e5f"


def plan_for(rules, members=None, ips=("10.0.0.2",), groups=("g",)):
    nic = Nic(NIC, "vnic0", "52:54:00:AA:BB:CC", ips, groups, dns_servers=("10.0.0.1",))
    return compile_host(HostState(nics=[nic], rules={"g": rules}, members=members or {}))


def test_chain_names_are_stable_and_fit_iptables_limit():
    names = nic_chains(NIC)
    assert names == ("nimbo-i-5b1d6a3e7c1f", "nimbo-s-5b1d6a3e7c1f", "nimbo-o-5b1d6a3e7c1f")
    assert all(len(n) <= 28 for n in names)
    # An id that is not a uuid: 12 hex characters of its SHA-1, the same at every call.
    assert nic_chains("not-a-uuid") == ("nimbo-i-b331439aaf85", "nimbo-s-b331439aaf85", "nimbo-o-b331439aaf85")
    assert nic_chains("x" * 99)[0] == "nimbo-i-5711f817fca4"
    assert len(ipset_name(NIC, "v6")) <= 31
    assert l2_chain(NIC) == "nimbo-l-5b1d6a3e7c1f" and len(l2_chain("x" * 99)) <= 31  # ebtables' limit


def test_a_nic_in_no_group_is_not_filtered():
    plan = plan_for([], groups=())
    assert plan["v4"]["chains"] == {} and plan["v6"]["chains"] == {} and plan["nics"] == {}
    assert plan["eb"]["chains"] == {}


def test_rule_forms():
    r = Rule("a", "ingress", "IPv4", 6, 22, 22, remote_ip_prefix="10.0.0.0/24")
    assert rule_match(r) == '-s 10.0.0.0/24 -p tcp -m tcp --dport 22 -m comment --comment "r:a"'
    r = Rule("b", "egress", "IPv4", 17, 100, 200, remote_ip_prefix="0.0.0.0/0")
    assert rule_match(r) == '-p udp -m udp --dport 100:200 -m comment --comment "r:b"'
    assert rule_match(Rule("c", "ingress", "IPv4", 1, -1, -1)) == '-p icmp -m comment --comment "r:c"'
    assert rule_match(Rule("d", "ingress", "IPv4", 1, 8, -1)) == (
        '-p icmp -m icmp --icmp-type 8 -m comment --comment "r:d"')
    assert rule_match(Rule("e", "ingress", "IPv6", 1, 128, 0)) == (
        '-p ipv6-icmp -m icmp6 --icmpv6-type 128/0 -m comment --comment "r:e"')
    assert rule_match(Rule("f", "ingress", "IPv4", 47)) == '-p gre -m comment --comment "r:f"'
    assert rule_match(Rule("g", "ingress", "IPv6", None, remote_group_id="x"), "nimbo-gx-6") == (
        '-m set --match-set nimbo-gx-6 src -m comment --comment "r:g"')


def test_egress_is_open_until_a_group_holds_egress_rules():
    v4 = plan_for([Rule("i", "ingress", "IPv4", 6, 22, 22)])["v4"]["chains"]
    assert not v4["nimbo-o-5b1d6a3e7c1f"][-1].endswith("-j DROP")
    plan = plan_for([Rule("e4", "egress", "IPv4"), Rule("e6", "egress", "IPv6")])
    egress = plan["v4"]["chains"]["nimbo-o-5b1d6a3e7c1f"]
    gin, gout = group_chains("g")
    assert egress[-2:] == [f"-A nimbo-o-5b1d6a3e7c1f -j {gout}", "-A nimbo-o-5b1d6a3e7c1f -j DROP"]
    assert plan["v4"]["chains"][gout] == [f'-A {gout} -m comment --comment "r:e4" -j nimbo-in']
    assert plan["v6"]["chains"][gout] == [f'-A {gout} -m comment --comment "r:e6" -j nimbo-in']
    assert "-A nimbo-o-5b1d6a3e7c1f -d 10.0.0.1/32 -p udp -m udp --dport 53 -j nimbo-in" in egress
    assert plan["nics"][NIC]["egress_default"] is False


def test_group_rules_are_written_once_per_host_whatever_the_number_of_nics():
    rules = {"g": [Rule("a", "ingress", "IPv4", 6, 22, 22)]}
    nics = [Nic(f"n{i}", f"vnic{i}", f"52:54:00:00:00:{i:02x}", (f"10.0.0.{i + 2}",), ("g",)) for i in range(3)]
    plan = compile_host(HostState(nics=nics, rules=rules))
    gin = group_chains("g")[0]
    assert plan["v4"]["chains"][gin] == [f'-A {gin} -p tcp -m tcp --dport 22 -m comment --comment "r:a" -j ACCEPT']
    assert all(f"-A {nic_chains(n.id)[0]} -j {gin}" in plan["v4"]["chains"][nic_chains(n.id)[0]] for n in nics)
    more = compile_host(HostState(nics=nics, rules={"g": [*rules["g"], Rule("b", "ingress", "IPv4", 6, 80, 80)]}))
    changed = [c for c in more["v4"]["chains"] if more["v4"]["chains"][c] != plan["v4"]["chains"].get(c)]
    assert changed == [gin], "a rule change rewrites the group's chain only"


def test_defaults_chain_holds_anti_spoofing():
    plan = plan_for([])
    assert plan["v4"]["chains"]["nimbo-s-5b1d6a3e7c1f"] == [
        "-A nimbo-s-5b1d6a3e7c1f -s 0.0.0.0/32 -d 255.255.255.255/32 -p udp -m udp --sport 68 --dport 67 "
        "-m mac --mac-source 52:54:00:aa:bb:cc -j RETURN",
        "-A nimbo-s-5b1d6a3e7c1f -s 10.0.0.2/32 -m mac --mac-source 52:54:00:aa:bb:cc -j RETURN",
        "-A nimbo-s-5b1d6a3e7c1f -j DROP",
    ]


def test_link_layer_chain_holds_mac_and_arp_anti_spoofing():
    plan = plan_for([], ips=("10.0.0.2", "fd00::2", "10.0.1.2"))
    chain = l2_chain(NIC)
    assert plan["eb"]["chains"] == {
        "nimbo-PREROUTING": [f"-A nimbo-PREROUTING -i vnic0 -j {chain}"],
        chain: [
            f"-A {chain} -s ! 52:54:00:aa:bb:cc -j DROP",
            f"-A {chain} -p ARP --arp-mac-src ! 52:54:00:aa:bb:cc -j DROP",
            f"-A {chain} -p ARP --arp-ip-src 10.0.0.2 -j RETURN",
            f"-A {chain} -p ARP --arp-ip-src 10.0.1.2 -j RETURN",
            f"-A {chain} -p ARP --arp-ip-src 0.0.0.0 -j RETURN",
            f"-A {chain} -p ARP -j DROP",
        ],
    }
    assert plan["nics"][NIC]["l2_chain"] == chain
    assert plan_for([Rule("x", "ingress", "IPv4", 6, 22, 22)])["eb"] == plan_for([])["eb"], "rules do not touch it"


def test_remote_groups_become_one_set_per_group_and_family():
    rules = [Rule("r4", "ingress", "IPv4", 6, 22, 22, remote_group_id="A"),
             Rule("r6", "ingress", "IPv6", 6, 22, 22, remote_group_id="A")]
    plan = plan_for(rules, members={"A": ["10.0.0.7", "fd00::7", "10.0.0.5"]})
    assert plan["ipsets"] == {
        ipset_name("A", "v4"): {"family": "inet", "members": ["10.0.0.5", "10.0.0.7"]},
        ipset_name("A", "v6"): {"family": "inet6", "members": ["fd00::7"]},
    }
    moved = plan_for(rules, members={"A": ["10.0.0.7"]})
    assert moved["v4"]["chains"] == plan["v4"]["chains"], "membership changes touch the sets only"


@pytest.mark.root
def test_every_rule_form_reads_back_exactly_as_compiled():
    """The plan is written the way iptables-save prints it: a reconcile right after an apply finds no drift."""
    rules = [
        Rule("e4", "egress", "IPv4"), Rule("e6", "egress", "IPv6"),
        Rule("a", "ingress", "IPv4", 6, 22, 22, remote_ip_prefix="10.0.0.0/24"),
        Rule("b", "ingress", "IPv4", 17, 100, 200), Rule("c", "ingress", "IPv4", 1, -1, -1),
        Rule("d", "ingress", "IPv4", 1, 3, 4), Rule("e", "ingress", "IPv6", 58, 128, -1),
        Rule("f", "ingress", "IPv4", 47), Rule("g", "ingress", "IPv4", 132, 5, 6),
        Rule("h", "ingress", "IPv6", 6, 1, 65535, remote_ip_prefix="fd00::/64"),
        Rule("i", "egress", "IPv4", 6, 443, 443, remote_group_id="A"), Rule("j", "ingress", "IPv4", 99),
    ]
    plan = plan_for(rules, members={"A": ["10.0.0.9"]}, ips=("10.0.0.2", "fd00::2"))
    with Lab() as lab:
        firewall.apply_plan(plan, lab.host)
        assert firewall.reconcile(plan, lab.host)["repaired"] == 0


def _host(**rules):
    """Three NICs: n0 in g, n1 in g and h, n2 in h; group "r" is a remote of h's rules."""
    nics = [Nic("n0", "vnic0", "52:54:00:00:00:01", ("10.0.0.2",), ("g",)),
            Nic("n1", "vnic1", "52:54:00:00:00:02", ("10.0.0.3",), ("g", "h")),
            Nic("n2", "vnic2", "52:54:00:00:00:03", ("10.0.0.4",), ("h",))]
    rules = {"g": [Rule("g-i", "ingress", "IPv4", 6, 22, 22)],
             "h": [Rule("h-r", "ingress", "IPv4", 6, 80, 80, remote_group_id="r"), Rule("h-e", "egress", "IPv4")],
             **rules}
    return HostState(nics=nics, rules=rules, members={"r": ["10.0.0.9"]})


def _owned(plan):
    return {name for fam in ("v4", "v6", "eb") for name in plan[fam]["chains"]}


def test_a_scope_compiles_only_the_chains_it_touches_exactly_as_the_whole_host():
    state = _host()
    whole = compile_host(state)
    plan = compile_host(state, Scope(groups=frozenset({"g"})))
    touched = {*group_chains("g"), *nic_chains("n0"), *nic_chains("n1"), l2_chain("n0"), l2_chain("n1"),
               "nimbo-FORWARD", "nimbo-sg", "nimbo-in", "nimbo-PREROUTING"}
    assert _owned(plan) == touched, "g's chains, the chains of g's NICs and the dispatch chains"
    assert set(plan["nics"]) == {"n0", "n1"} and set(plan["groups"]) == {"g", "h"}, "with all their rules"
    for fam in ("v4", "v6", "eb"):
        assert all(lines == whole[fam]["chains"][name] for name, lines in plan[fam]["chains"].items())
    assert plan["ipsets"] == whole["ipsets"], "the sets are always whole (a few addresses each)"
    assert touched <= set(plan["scope"]["chains"])

    # Only the rules of the groups a scope reaches are needed to compile it.
    only_g = compile_host(HostState(nics=state.nics, rules={"g": state.rules["g"]}, members=state.members,
                                    remotes={("r", "v4")}), Scope(nics=frozenset({"n0"})))
    assert only_g["v4"]["chains"] == {k: v for k, v in whole["v4"]["chains"].items() if k in only_g["v4"]["chains"]}
    assert set(only_g["groups"]) == {"g"} and only_g["ipsets"] == whole["ipsets"]


def test_a_nic_or_group_gone_from_the_host_is_in_the_scope_without_chains():
    state = _host()
    state.nics = state.nics[:1]  # n1 and n2 left the host: h is used by nobody here any more
    plan = compile_host(state, Scope(nics=frozenset({"n1", "n2"}), groups=frozenset({"h"})))
    assert {*nic_chains("n1"), l2_chain("n2"), *group_chains("h")} <= set(plan["scope"]["chains"])
    assert not ({*nic_chains("n1"), l2_chain("n2"), *group_chains("h")} & _owned(plan)), "so the applier removes them"
    assert plan["eb"]["chains"]["nimbo-PREROUTING"] == [f"-A nimbo-PREROUTING -i vnic0 -j {l2_chain('n0')}"]
    assert plan["ipsets"] == {}, "no rule on the host names r any more"


def test_a_membership_change_reaches_the_groups_whose_rules_name_the_group():
    plan = compile_host(_host(), Scope(members=frozenset({"r"})))
    assert set(plan["nics"]) == {"n1", "n2"}, "the NICs whose rules name r: their connections are checked"
    assert set(plan["groups"]) == {"g", "h"}, "with all the rules of those NICs"
    assert not (set(group_chains("g")) | set(group_chains("h"))) & _owned(plan), "rules name sets: chains stay"
    assert compile_host(_host(), Scope(members=frozenset({"nobody"})))["nics"] == {}


def test_added_rules_widen_unless_they_end_a_nics_open_egress():
    state = _host(g=[Rule("g-i", "ingress", "IPv4", 6, 22, 22), Rule("g-new", "ingress", "IPv4", 6, 23, 23)])
    added = Scope(groups=frozenset({"g"}), added_rules=frozenset({"g-new"}), only_additions=True)
    assert compile_host(state, added)["scope"]["widening"] is True
    assert compile_host(state, Scope(groups=frozenset({"g"})))["scope"]["widening"] is False
    # n0 had open egress (g holds no egress rule): its first egress rule ends it.
    state.rules["g"] = [*state.rules["g"], Rule("g-e", "egress", "IPv4", 6, 443, 443)]
    first = Scope(groups=frozenset({"g"}), added_rules=frozenset({"g-e"}), only_additions=True)
    assert compile_host(state, first)["scope"]["widening"] is False
    # n1's egress was already limited by h's rule: another egress rule only widens for it, but n0 still loses.
    assert compile_host(state, first)["nics"]["n1"]["egress_default"] is False


def test_sync_requests_carry_their_scope():
    from apps.secgroups.sync import parse_scope, scope_items

    assert scope_items() == ["*"] and parse_scope(["*", "g:x"]) is None
    items = scope_items(groups=["g"], added_rules=["r1", "r2"])
    assert items == ["a:g", "r:r1", "r:r2"]
    assert parse_scope(items) == Scope(groups=frozenset({"g"}), added_rules=frozenset({"r1", "r2"}),
                                       only_additions=True)
    both = parse_scope(items + scope_items(groups=["g"]))  # coalesced with a rule removal
    assert both.groups == frozenset({"g"}) and not both.only_additions
    joined = parse_scope(scope_items(nics=["n"], groups=["g"], members=["g"]))
    assert joined == Scope(nics=frozenset({"n"}), groups=frozenset({"g"}), members=frozenset({"g"}))
    assert parse_scope([]) == Scope(), "taken by an earlier job: the dispatch chains and sets only"


def test_a_long_chain_changes_by_edits_only_when_rules_were_appended_or_removed():
    old = ["-A c -p tcp -j ACCEPT", "-A c -p udp -j ACCEPT", "-A c -p icmp -j ACCEPT"]
    assert firewall._edits(old, [*old, "-A c -p gre -j ACCEPT"]) == ["-A c -p gre -j ACCEPT"]
    assert firewall._edits(old, [old[0], old[2]]) == ["-D c -p udp -j ACCEPT"]
    assert firewall._edits(old, [old[0], old[1], "-A c -p gre -j ACCEPT", old[2]]) == [
        "-D c -p icmp -j ACCEPT", "-A c -p gre -j ACCEPT", "-A c -p icmp -j ACCEPT"], "before the last line"
    assert firewall._edits(old, ["-A c -p gre -j ACCEPT", *old]) is None, "the whole chain would move: rewritten"
    assert firewall._edits(old, [old[0], old[2], old[1]]) is None, "reordered: rewritten"
    assert firewall._edits(old, [old[0], "-A c -p gre -j ACCEPT"]) is None, "removed and added: rewritten"
    many = [*old, *(f"-A c -p tcp --dport {p} -j ACCEPT" for p in range(firewall.MAX_EDIT_LINES + 1))]
    assert firewall._edits(old, many) is None and firewall._edits(many, old) is None, "too many: rewritten"
