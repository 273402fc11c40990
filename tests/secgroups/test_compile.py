"""The compiler alone: plain data in, a firewall plan out (no root, no database)."""

import pytest

from apps.secgroups.compile import (HostState, Nic, Rule, compile_host, group_chains, ipset_name, l2_chain,
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
    assert nic_chains("not-a-uuid") == nic_chains("not-a-uuid") and len(nic_chains("x" * 99)[0]) <= 28
    assert firewall.short_id(NIC) == "5b1d6a3e7c1f" and firewall.short_id("x" * 99) == nic_chains("x" * 99)[0][8:]
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
