"""The packet tracer alone: a compiled plan and a packet in, the path and the verdict out (no root)."""

from apps.secgroups.compile import HostState, Nic, Rule, compile_host, group_chains, nic_chains
from apps.secgroups.trace import (DEFAULT_DROP, Packet, drift_on_path, parse_counters, plan_nic, plan_rules,
                                  plan_tables, saved_tables, trace)

NIC = "5b1d6a3e-7c1f-4a8e-9d1e-0a1b2c3d4e5f"
MAC = "52:54:00:aa:bb:cc"
TCP, ICMP = 6, 1


def plan_for(rules, members=None, groups=("g",), extra=None):
    nic = Nic(NIC, "vnic0", MAC, ("10.0.0.2",), groups, dns_servers=("10.0.0.1",))
    return compile_host(HostState(nics=[nic], rules={"g": rules, **(extra or {})}, members=members or {}))


def run(plan, **packet):
    packet.setdefault("direction", "ingress")
    packet.setdefault("protocol", "tcp")
    packet.setdefault("src", "10.0.0.9")
    packet.setdefault("dst", "10.0.0.2")
    return trace(plan_tables(plan), plan_nic(plan, NIC), Packet(**packet), plan_rules(plan))


SSH_FROM_NET = Rule("ssh", "ingress", "IPv4", TCP, 22, 22, remote_ip_prefix="10.0.0.0/24")
PING = Rule("ping", "ingress", "IPv4", ICMP, 8, -1)


def test_allowed_by_a_cidr_rule_names_the_rule_and_every_step():
    plan = plan_for([Rule("web", "ingress", "IPv4", TCP, 80, 80), SSH_FROM_NET])
    result = run(plan, dst_port=22)
    assert result["verdict"] == "ACCEPT"
    assert result["rule"]["id"] == "ssh" and result["rule"]["text"] == "ingress IPv4 tcp port 22 from 10.0.0.0/24"
    chains = [s["chain"] for s in result["steps"] if s["kind"] == "chain"]
    ingress = nic_chains(NIC)[0]
    assert chains == ["nimbo-FORWARD", "nimbo-sg", "nimbo-in", ingress, group_chains("g")[0]]
    tried = [(s["rule"].split('"r:')[1][:-len('" -j ACCEPT')], s["matched"]) for s in result["steps"]
             if s["kind"] == "rule" and s["chain"] == group_chains("g")[0]]
    assert tried == [("web", False), ("ssh", True)], "each rule tried, in order, matched or not"
    decides = [s for s in result["steps"] if s.get("decides")]
    assert decides and all(s.get("rule_id") == "ssh" for s in decides)
    assert result["steps"][0]["stage"] == "anti-spoofing"


def test_other_source_or_port_falls_to_the_default_drop():
    plan = plan_for([SSH_FROM_NET])
    for packet in ({"src": "192.168.1.1", "dst_port": 22}, {"dst_port": 23}, {"protocol": "udp", "dst_port": 22}):
        result = run(plan, **packet)
        assert result["verdict"] == "DROP" and result["reason"] == DEFAULT_DROP and result["rule"] is None, packet
        assert result["steps"][-1]["rule"] == f"-A {nic_chains(NIC)[0]} -j DROP" and result["steps"][-1]["decides"]


def test_icmp_by_type():
    plan = plan_for([PING])
    assert run(plan, protocol="icmp", icmp_type=8, icmp_code=0)["rule"]["id"] == "ping"
    assert run(plan, protocol="icmp", icmp_type=13, icmp_code=0)["verdict"] == "DROP"


def test_remote_group_rule_uses_the_set_members():
    rule = Rule("from-a", "ingress", "IPv4", TCP, 22, 22, remote_group_id="A")
    plan = plan_for([rule], members={"A": ["10.0.0.7"]}, extra={"A": []})
    allowed = run(plan, src="10.0.0.7", dst_port=22)
    assert allowed["verdict"] == "ACCEPT" and allowed["rule"]["id"] == "from-a"
    assert run(plan, src="10.0.0.8", dst_port=22)["verdict"] == "DROP"


def test_established_reply_is_accepted_by_conntrack():
    result = run(plan_for([]), src="10.0.0.9", src_port=22, dst_port=40000, state="established")
    assert result["verdict"] == "ACCEPT" and "ESTABLISHED" in result["reason"] and result["rule"] is None


def test_egress_spoofed_source_address_and_mac_are_dropped():
    plan = plan_for([])
    ok = run(plan, direction="egress", src="10.0.0.2", dst="10.0.0.9", dst_port=22)
    assert ok["verdict"] == "ACCEPT" and ok["reason"].startswith("egress is open")
    ip = run(plan, direction="egress", src="10.0.0.66", dst="10.0.0.9", dst_port=22)
    assert ip["verdict"] == "DROP" and ip["reason"].startswith("anti-spoofing: source 10.0.0.66")
    mac = run(plan, direction="egress", src="10.0.0.2", dst="10.0.0.9", dst_port=22, src_mac="52:54:00:66:66:66")
    assert mac["verdict"] == "DROP" and "MAC" in mac["reason"]
    assert [s["stage"] for s in mac["steps"]] == ["anti-spoofing"] * len(mac["steps"]), "stops at the link layer"


def test_egress_rules_close_open_egress():
    plan = plan_for([Rule("out-dns", "egress", "IPv4", 17, 53, 53, remote_ip_prefix="8.8.8.8/32")])
    allowed = run(plan, direction="egress", protocol="udp", src="10.0.0.2", dst="8.8.8.8", dst_port=53)
    assert allowed["verdict"] == "ACCEPT" and allowed["rule"]["id"] == "out-dns"
    dropped = run(plan, direction="egress", protocol="udp", src="10.0.0.2", dst="8.8.4.4", dst_port=53)
    assert dropped["verdict"] == "DROP" and dropped["reason"] == DEFAULT_DROP
    router = run(plan, direction="egress", protocol="udp", src="10.0.0.2", dst="10.0.0.1", dst_port=53)
    assert router["verdict"] == "ACCEPT" and router["reason"].startswith("DNS to the router")


def test_live_tables_with_counters_and_drift_on_the_path():
    plan = plan_for([SSH_FROM_NET])
    gin = group_chains("g")[0]
    saved = {"v4": "", "v6": "", "eb": "", "sets": {}}
    lines = []
    for chain in plan["v4"]["chains"]:
        lines.append(f":{chain} - [0:0]")
    for chain, rules in plan["v4"]["chains"].items():
        for line in rules:
            if chain == gin:
                line = line.replace("10.0.0.0/24", "10.9.0.0/24")  # edited by hand on the host
            lines.append(f"[3:180] {line}")
    saved["v4"] = "*filter\n[9:540] -A FORWARD -j nimbo-FORWARD\n" + "\n".join(lines) + "\nCOMMIT\n"
    assert parse_counters('[3:180] -A x -j DROP') == ("-A x -j DROP", (3, 180))
    live_tables = saved_tables(saved)
    compiled = run(plan, dst_port=22)
    live = trace(live_tables, plan_nic(plan, NIC), Packet("ingress", "tcp", "10.0.0.9", "10.0.0.2", dst_port=22),
                 plan_rules(plan))
    assert compiled["verdict"] == "ACCEPT" and live["verdict"] == "DROP"
    assert all(s.get("packets") == 3 for s in live["steps"] if s["kind"] == "rule")
    drift = drift_on_path(plan_tables(plan), live_tables, compiled, live)
    assert drift["verdict_differs"]
    assert [d["chain"] for d in drift["chains"]] == [gin]
    assert drift["chains"][0]["missing"][0].startswith(f"-A {gin} -s 10.0.0.0/24")
    assert drift["chains"][0]["extra"][0].startswith(f"-A {gin} -s 10.9.0.0/24")


def test_an_unknown_match_is_said_not_guessed():
    plan = plan_for([SSH_FROM_NET])
    tables = plan_tables(plan)
    gin = group_chains("g")[0]
    tables["v4"] = {**tables["v4"], gin: [f"-A {gin} -m time --timestart 01:00 -j ACCEPT"]}
    result = trace(tables, plan_nic(plan, NIC), Packet("ingress", "tcp", "10.0.0.9", "10.0.0.2", dst_port=22))
    assert result["verdict"] == "DROP"
    assert any(s.get("unsupported") == "--timestart" for s in result["steps"])


def test_without_the_jump_from_forward_nothing_is_filtered_and_drift_says_so():
    # The jump from FORWARD gone (a host whose firewall was flushed): Nimbo's chains are never reached.
    plan = plan_for([SSH_FROM_NET])
    lines = [f"[0:0] {line}" for rules in plan["v4"]["chains"].values() for line in rules]
    saved = {"v4": "*filter\n" + "\n".join(lines) + "\nCOMMIT\n", "v6": "", "eb": "", "sets": {}}
    unjumped = saved_tables(saved)
    bare = trace(unjumped, plan_nic(plan, NIC), Packet("ingress", "tcp", "192.0.2.1", "10.0.0.2", dst_port=23))
    assert bare["verdict"] == "ACCEPT" and "no jump into nimbo-FORWARD" in bare["reason"]
    assert run(plan, src="192.0.2.1", dst_port=23)["verdict"] == "DROP"
    drift = drift_on_path(plan_tables(plan), unjumped, run(plan, src="192.0.2.1", dst_port=23), bare)
    assert drift["chains"][0] == {"chain": "FORWARD", "missing": ["-A FORWARD -j nimbo-FORWARD"], "extra": []}


def test_a_peer_on_the_same_host_has_its_say():
    client = Nic("c1", "vnic1", "52:54:00:00:00:01", ("10.0.0.3",), ("client",))
    server = Nic(NIC, "vnic0", MAC, ("10.0.0.2",), ("g",))
    plan = compile_host(HostState(nics=[client, server], rules={
        "client": [Rule("out-ssh", "egress", "IPv4", TCP, 22, 22)], "g": [SSH_FROM_NET, PING]}))
    peer = {"id": "c1", "device": "vnic1", "mac": "52:54:00:00:00:01"}
    ssh = trace(plan_tables(plan), plan_nic(plan, NIC), Packet("ingress", "tcp", "10.0.0.3", "10.0.0.2", dst_port=22),
                plan_rules(plan), peer)
    assert ssh["verdict"] == "ACCEPT" and ssh["rule"]["id"] == "ssh"
    assert nic_chains("c1")[2] in [s["chain"] for s in ssh["steps"] if s["kind"] == "chain"], "the client's egress"
    ping = trace(plan_tables(plan), plan_nic(plan, NIC), Packet("ingress", "icmp", "10.0.0.3", "10.0.0.2",
                                                                icmp_type=8, icmp_code=0), plan_rules(plan), peer)
    assert ping["verdict"] == "DROP" and ping["reason"] == f"at NIC c1 (sender's egress): {DEFAULT_DROP}"
