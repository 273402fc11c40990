"""A packet from the public network to a VIP through the router's compiled NAT (no root)."""

import pytest

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


@pytest.mark.django_db
def test_vip_trace_goes_through_the_router_then_the_guests_security_groups(api, monkeypatch):
    from apps.infra.models import Cluster, Host
    from apps.secgroups import services
    from apps.vrouter.models import PortForwardingRule, VirtualRouter
    from tests.support.factories import make_ip_range, make_l2, make_l3, make_vip, make_vm

    public = make_l3(name="PUBLIC-L3", system=True)
    make_ip_range(public, cidr="198.51.100.0/24")
    private = make_l3(l2=make_l2(public.l2_network.zone, name="PRIVATE-L2", vlan=100), name="PRIVATE-L3",
                      services={"DHCP": "VirtualRouter", "PortForwarding": "VirtualRouter",
                                "SecurityGroup": "SecurityGroup"})
    make_ip_range(private, cidr="10.0.0.0/24")
    cluster = Cluster.objects.create(zone=public.l2_network.zone, name="C", hypervisor_type="Sandbox")
    host = Host.objects.create(cluster=cluster, name="H", management_ip="127.0.0.9")
    vm = make_vm("VM1", l3s=[private], host=host)
    nic = vm.nics.get()
    VirtualRouter.objects.create(name="vr-private", l3_network=private, public_l3=public, state="Running", host=host,
                                 address="10.0.0.1", netmask="255.255.255.0", public_address="198.51.100.9")
    vip = make_vip(public, name="VIP-1")
    PortForwardingRule.objects.create(name="PF1", vip=vip, protocol="TCP", vip_port_start=2222, vip_port_end=2222,
                                      guest_port_start=22, guest_port_end=22, vm_nic=nic)
    group = services.create_security_group(name="web")
    services.attach_l3(group, private)
    services.add_nics(group, [nic])
    rule = services.add_rule(group, protocol=6, port_range_min=22, port_range_max=22,
                             remote_ip_prefix="203.0.113.0/24")
    url = f"/api/v1/vips/{vip.pk}/trace/"

    def post(**body):
        response = api.post(url, {"protocol": "tcp", "live": False, **body}, format="json")
        assert response.status_code == 200, response.content
        return response.json()

    ok = post(src="203.0.113.9", dst_port=2222)
    assert ok["verdict"] == "ACCEPT" and ok["nic"] == str(nic.pk)
    assert ok["router_path"]["packet"]["dst"] == nic.ip and ok["router_path"]["packet"]["dst_port"] == 22
    assert ok["nic_trace"]["compiled"]["rule"]["id"] == str(rule.pk)
    refused = post(src="192.0.2.1", dst_port=2222)
    assert refused["verdict"] == "DROP" and refused["reason"].endswith("no rule allowed it (default drop)")
    unforwarded = post(src="203.0.113.9", dst_port=22)
    assert unforwarded["verdict"] == "DROP" and "no port forwarding rule or EIP matched" in unforwarded["reason"]
    assert unforwarded["nic_trace"] is None
    bad = api.post(url, {"protocol": "tcp", "src": "203.0.113.9"}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "dst_port"

    # Live: the router's tables as its host prints them, the port forwarding rule deleted there by hand.
    from apps.vrouter import tracing

    def read_router(vr):
        text = ["*nat"] + [f":{c} - [0:0]" for c in ok_tables(vr)["nat"]]
        text += [f"[7:420] -A {c} {r}" for c, rules in ok_tables(vr)["nat"].items() for r in rules if "pf-" not in r]
        text += ["COMMIT", "*filter"] + [f"[0:0] -A {c} {r}" for c, rules in ok_tables(vr)["filter"].items()
                                          for r in rules] + ["COMMIT"]
        return tracing.saved_router_tables("\n".join(text))

    def ok_tables(vr):
        from apps.vrouter.routers import nat_plan

        return compile_nat(nat_plan(vr))

    def host_down(host):
        raise OSError("host H does not answer")

    monkeypatch.setattr(tracing, "read_router", read_router)
    monkeypatch.setattr("apps.secgroups.tracing.read_host", host_down)
    drifted = post(src="203.0.113.9", dst_port=2222, live=True)
    assert drifted["verdict"] == "DROP" and drifted["router_compiled_path"]["verdict"] == "FORWARD"
    assert drifted["router_drift"]["verdict_differs"]
    assert [d["chain"] for d in drifted["router_drift"]["chains"]] == ["nimbo-dnat"]
    assert drifted["router_path"]["steps"][1]["packets"] == 7
