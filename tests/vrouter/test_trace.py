"""A packet from the public network to a VIP through the router's compiled NAT (no root)."""

from apps.secgroups.trace import Packet
from apps.vrouter.compile import compile_nat
from apps.vrouter.trace import trace_router

PUBLIC, VIP, EIP = "198.51.100.231", "198.51.100.235", "198.51.100.237"
ROUTER = {"inside": "eth0", "outside": "eth1", "addresses": [PUBLIC, VIP, EIP]}


def tables(rules=(), eips=()):
    return compile_nat({"private": {"dev": "eth0", "address": "10.0.0.1", "cidr": "10.0.0.0/24"},
                        "public": {"dev": "eth1", "address": PUBLIC}, "snat": True,
                        "port_forwarding": list(rules), "eips": list(eips)})


def pf(rule_id, vip_ports, guest_ports, cidr=""):
    return {"id": rule_id, "vip": VIP, "protocol": "tcp", "vip_ports": list(vip_ports), "guest_ip": "10.0.0.5",
            "guest_ports": list(guest_ports), "allowed_cidr": cidr}


def tcp(dst, port, src="203.0.113.9"):
    return Packet("ingress", "tcp", src, dst, src_port=40000, dst_port=port)


def test_port_forwarding_translates_the_destination_and_port():
    t = tables([pf("r1", (2222, 2222), (22, 22)), pf("r2", (8000, 8009), (9000, 9009))])
    result = trace_router(t, ROUTER, tcp(VIP, 2222))
    assert result["verdict"] == "FORWARD" and result["rule"] == "pf-r1"
    assert (result["packet"]["dst"], result["packet"]["dst_port"]) == ("10.0.0.5", 22)
    assert [s for s in result["steps"] if s.get("decides")][0]["rule"].startswith(f"-d {VIP}/32 -p tcp")
    shifted = trace_router(t, ROUTER, tcp(VIP, 8003))
    assert shifted["packet"]["dst_port"] == 9003 and shifted["rule"] == "pf-r2"


def test_a_port_no_rule_forwards_stays_on_the_router():
    result = trace_router(tables([pf("r1", (22, 22), (22, 22))]), ROUTER, tcp(VIP, 23))
    assert result["verdict"] == "LOCAL" and "no port forwarding rule or EIP matched" in result["reason"]


def test_allowed_cidr_limits_the_sources():
    t = tables([pf("r1", (22, 22), (22, 22), cidr="203.0.113.0/24")])
    assert trace_router(t, ROUTER, tcp(VIP, 22))["verdict"] == "FORWARD"
    assert trace_router(t, ROUTER, tcp(VIP, 22, src="192.0.2.1"))["verdict"] == "LOCAL"


def test_eip_translates_every_port_and_hairpin_traffic_is_snatted():
    t = tables(eips=[{"id": "e1", "vip": EIP, "guest_ip": "10.0.0.6"}])
    result = trace_router(t, ROUTER, tcp(EIP, 443))
    assert result["rule"] == "eip-e1" and result["packet"]["dst"] == "10.0.0.6" and result["packet"]["dst_port"] == 443
    hairpin = trace_router(t, {**ROUTER, "outside": "eth0"}, tcp(EIP, 443, src="10.0.0.5"))
    assert hairpin["packet"]["src"] == "10.0.0.1", "a guest reaching a VIP of its own network: the router answers"


def test_the_public_network_cannot_reach_a_guest_directly():
    result = trace_router(tables([pf("r1", (22, 22), (22, 22))]), ROUTER, tcp("10.0.0.5", 22))
    assert result["verdict"] == "DROP"
