"""The router's NAT with real packets: a test host with a private and a public bridge, guests and public
clients as small namespaces, the router converged by `workers.host.router.ensure_router`."""

import os
import subprocess

import pytest

from apps.vrouter.compile import compile_dnsmasq, compile_nat, vip_addresses
from tests.support.dataplane import HostNamespace, suffix
from tests.support.natlab import Box
from workers.host import links, router

pytestmark = [pytest.mark.root]

PUBLIC_IP, VIP1, VIP2, EIP = "198.51.100.231", "198.51.100.235", "198.51.100.236", "198.51.100.237"


def spec_for(host, sfx, *, rules=(), eips=(), snat=True):
    name = f"nimbo-vr-{sfx}"
    nat = {"private": {"dev": "eth0", "address": "10.0.0.1", "cidr": "10.0.0.0/24"},
           "public": {"dev": "eth1", "address": PUBLIC_IP}, "snat": snat,
           "port_forwarding": list(rules), "eips": list(eips)}
    files = compile_dnsmasq({"state_dir": os.path.join(router.STATE_ROOT, name), "interface": "eth0",
                             "address": "10.0.0.1", "netmask": "255.255.255.0", "gateway": "10.0.0.1",
                             "domain": "", "dns_servers": [], "hosts": []})
    return router.RouterSpec(name=name, bridge="br_priv", leg=f"vr{sfx}", address="10.0.0.1/24",
                             host_netns=host.name, files=files, tables=compile_nat(nat), vips=vip_addresses(nat),
                             public={"bridge": "br_pub", "leg": f"vp{sfx}", "address": f"{PUBLIC_IP}/24",
                                     "gateway": "198.51.100.1"})


def pf(rule_id, vip, proto, vip_ports, guest_ip, guest_ports=None, cidr=""):
    return {"id": rule_id, "vip": vip, "protocol": proto, "vip_ports": list(vip_ports), "guest_ip": guest_ip,
            "guest_ports": list(guest_ports or vip_ports), "allowed_cidr": cidr}


def nat_rules(spec):
    return router.read_tables(spec)["nat"]


def test_port_forwarding_snat_eip_hairpin_and_removal_on_real_packets():
    sfx = suffix()
    with HostNamespace(bridge="br_priv") as host:
        links.ip_batch(["link add br_pub type bridge", "link set br_pub up"], netns=host.name)
        vm1 = Box(host, "br_priv", "10.0.0.5/24", "10.0.0.1").__enter__()
        vm2 = Box(host, "br_priv", "10.0.0.6/24", "10.0.0.1").__enter__()
        client = Box(host, "br_pub", "198.51.100.50/24").__enter__()
        outsider = Box(host, "br_pub", "198.51.100.60/24").__enter__()
        client.exec("sysctl", "-qw", "net.ipv4.conf.eth0.arp_accept=1")
        for vm, label in ((vm1, "vm1"), (vm2, "vm2")):
            vm.serve("tcp", 22, label)
            vm.serve("tcp", 8080, label)
        vm1.serve("udp", 5353, "vm1")
        client.serve("tcp", 9000, "client")

        rule1 = pf("r1", VIP1, "tcp", (22, 22), vm1.ip)
        spec = spec_for(host, sfx, rules=[rule1])
        host.on_cleanup(router.destroy_router, spec)
        done = router.ensure_router(spec)
        assert done[:4] == ["namespace", "leg", "public leg", f"VIP {VIP1} added"] and "nat updated" in done
        assert router.ensure_router(spec) == []  # converged: nothing to change
        assert router.router_status(spec)["state"] == "Running"

        # The VIP was announced: the public client learned it from the gratuitous ARP, without asking.
        assert client.exec("ip", "neigh", "show", VIP1).stdout.strip() != ""
        # ssh root@<vip> lands in VM1 (port 22 forwarded), as the client's own address.
        assert client.ask("tcp", VIP1, 22) == "vm1 198.51.100.50"
        session = client.session(VIP1, 22)
        assert session.first == "vm1 198.51.100.50" and session.say("still") == "vm1 still"

        # SNAT: a guest reaches the public network as the router's public address.
        assert vm1.ask("tcp", client.ip, 9000) == f"client {PUBLIC_IP}"
        # Nothing on the public network reaches a guest directly, even with a route through the router.
        client.exec("ip", "route", "add", "10.0.0.0/24", "via", PUBLIC_IP)
        assert client.ask("tcp", vm1.ip, 22, timeout=1).startswith("error")

        # Rebind the rule to VM2 (detach, attach): the open session stops, a new one lands in VM2.
        rule1 = pf("r1", VIP1, "tcp", (22, 22), vm2.ip)
        rule2 = pf("r2", VIP2, "tcp", (2222, 2222), vm1.ip, (22, 22))
        udp = pf("r3", VIP1, "udp", (53, 53), vm1.ip, (5353, 5353))
        ranged = pf("r4", VIP2, "tcp", (18080, 18081), vm2.ip, (8079, 8080), cidr="198.51.100.50/32")
        spec = spec_for(host, sfx, rules=[rule1, rule2, udp, ranged])
        assert f"VIP {VIP2} added" in router.ensure_router(spec)
        stopped = session.say("after")
        assert stopped in ("closed", "error ConnectionResetError"), stopped
        assert client.ask("tcp", VIP1, 22) == "vm2 198.51.100.50"
        assert client.ask("tcp", VIP2, 2222) == "vm1 198.51.100.50"  # ssh -p 2222 root@<vip2> lands in VM1
        assert client.ask("udp", VIP1, 53) == "vm1 198.51.100.50"
        # A range maps port by port (18081 -> 8080); the allowed CIDR keeps the other client out.
        assert client.ask("tcp", VIP2, 18081) == "vm2 198.51.100.50"
        assert outsider.ask("tcp", VIP2, 18081, timeout=1).startswith("error")
        assert outsider.ask("tcp", VIP1, 22) == "vm2 198.51.100.60"
        # Hairpin: a guest behind the router uses VIP:port too, and the answer comes back through the router.
        assert vm1.ask("tcp", VIP1, 22) == "vm2 10.0.0.1"

        # EIP: one-to-one in and out.
        spec = spec_for(host, sfx, rules=[rule1, rule2, udp, ranged], eips=[{"id": "e1", "vip": EIP,
                                                                            "guest_ip": vm2.ip}])
        router.ensure_router(spec)
        assert client.ask("tcp", EIP, 8080) == "vm2 198.51.100.50"
        assert vm2.ask("tcp", client.ip, 9000) == f"client {EIP}"
        assert vm1.ask("tcp", client.ip, 9000) == f"client {PUBLIC_IP}"
        assert vm1.ask("tcp", EIP, 8080) == "vm2 10.0.0.1"

        # Drift: a rule deleted by hand is reported and put back; status shows it first.
        live = [r for r in nat_rules(spec)["nimbo-dnat"] if "pf-r2" in r][0]
        subprocess.run(["ip", "netns", "exec", spec.name, "iptables", "-t", "nat", "-D", "nimbo-dnat",
                        *live.split()], check=True)
        assert router.router_status(spec)["parts"]["nat"] is False
        assert router.ensure_router(spec) == ["nat updated"]
        assert client.ask("tcp", VIP2, 2222) == "vm1 198.51.100.50"

        # Everything removed: no DNAT, no EIP SNAT, no VIP left on the public leg; SNAT stays.
        spec = spec_for(host, sfx)
        done = router.ensure_router(spec)
        assert sorted(d for d in done if d.startswith("VIP")) == sorted(
            f"VIP {v} removed" for v in (VIP1, VIP2, EIP))
        nat = nat_rules(spec)
        assert nat["nimbo-dnat"] == [] and [r for r in nat["nimbo-snat"] if "eip-" in r] == []
        addresses = links.ip("-4", "-o", "addr", "show", "dev", "eth1", netns=spec.name).stdout
        assert f"{PUBLIC_IP}/24" in addresses and "/32" not in addresses
        assert client.ask("tcp", VIP1, 22, timeout=1).startswith("error")
        assert vm1.ask("tcp", client.ip, 9000) == f"client {PUBLIC_IP}"


def test_table_changes_touch_only_what_differs():
    """Pure: a rule added to a long chain is one -A line, a removed one a -D line and its conntrack entries."""
    nat = {"private": {"dev": "eth0", "address": "10.0.0.1", "cidr": "10.0.0.0/24"},
           "public": {"dev": "eth1", "address": PUBLIC_IP}, "snat": True,
           "port_forwarding": [pf(f"r{i}", VIP1, "tcp", (1000 + i, 1000 + i), "10.0.0.5") for i in range(500)]}
    before = compile_nat(nat)["nat"]
    nat["port_forwarding"] = nat["port_forwarding"][1:] + [pf("new", VIP2, "udp", (53, 53), "10.0.0.6")]
    after = compile_nat(nat)["nat"]
    lines, removed = router.table_changes("nat", after, before)
    gone = [r for r in before["nimbo-dnat"] if "pf-r0 " in r]
    new = [r for r in after["nimbo-dnat"] if "pf-new " in r]
    assert len(gone) == len(new) == 1
    assert lines == [f"-D nimbo-dnat {gone[0]}", f"-A nimbo-dnat {new[0]}"]
    assert router.conntrack_deletions(removed) == [["-p", "tcp", "--orig-dst", VIP1, "--dport", "1000"]]
    assert router.table_changes("nat", after, after) == ([], [])


def test_packet_trace_through_the_live_router_matches_real_packets_and_reports_drift():
    from apps.secgroups.trace import Packet
    from apps.vrouter.trace import add_counters, router_drift, saved_router_tables, trace_router
    from workers.host.routersave import save_tables

    sfx = suffix()
    with HostNamespace(bridge="br_priv") as host:
        links.ip_batch(["link add br_pub type bridge", "link set br_pub up"], netns=host.name)
        vm1 = Box(host, "br_priv", "10.0.0.5/24", "10.0.0.1").__enter__()
        client = Box(host, "br_pub", "198.51.100.50/24").__enter__()
        vm1.serve("tcp", 22, "vm1")
        spec = spec_for(host, sfx, rules=[pf("r2", VIP2, "tcp", (2222, 2222), vm1.ip, (22, 22))])
        host.on_cleanup(router.destroy_router, spec)
        router.ensure_router(spec)
        info = {"inside": "eth0", "outside": "eth1", "addresses": [PUBLIC_IP, *spec.vips]}

        def traced(port):
            live, counters = saved_router_tables(save_tables(spec.to_dict())["text"])
            packet = Packet("ingress", "tcp", client.ip, VIP2, src_port=40000, dst_port=port)
            compiled_path = trace_router(spec.tables, info, packet)
            live_path = add_counters(trace_router(live, info, packet), counters)
            return compiled_path, live_path, router_drift(spec.tables, live, compiled_path, live_path)

        assert client.ask("tcp", VIP2, 2222) == "vm1 198.51.100.50"
        compiled_path, live_path, drift = traced(2222)
        assert live_path["verdict"] == "FORWARD" and live_path["rule"] == "pf-r2"
        assert (live_path["packet"]["dst"], live_path["packet"]["dst_port"]) == (vm1.ip, 22)
        decides = [s for s in live_path["steps"] if s.get("decides") and s["chain"] == "nimbo-dnat"]
        assert decides and decides[0]["packets"] >= 1, "the real connection went through the traced rule"
        assert drift == {"chains": [], "verdict_differs": False}
        assert client.ask("tcp", VIP2, 23, timeout=1).startswith("error")
        assert traced(23)[1]["verdict"] == "LOCAL"

        # The rule deleted by hand: the live path stops at the router, the compiled one does not.
        rule = [r for r in nat_rules(spec)["nimbo-dnat"] if "pf-r2" in r][0]
        subprocess.run(["ip", "netns", "exec", spec.name, "iptables", "-t", "nat", "-D", "nimbo-dnat",
                        *rule.split()], check=True)
        assert client.ask("tcp", VIP2, 2222, timeout=1).startswith("error")
        compiled_path, live_path, drift = traced(2222)
        assert compiled_path["verdict"] == "FORWARD" and live_path["verdict"] == "LOCAL"
        assert drift["verdict_differs"] and drift["chains"] == [
            {"table": "nat", "chain": "nimbo-dnat", "missing": [rule], "extra": []}]
