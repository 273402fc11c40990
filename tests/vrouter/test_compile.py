"""The router's dnsmasq files, compiled without a host."""

import pytest

from apps.vrouter.compile import compile_dnsmasq

PLAN = {
    "state_dir": "/run/nimbo/routers/vr-1", "interface": "eth0", "address": "198.51.100.2",
    "netmask": "255.255.255.0", "gateway": "198.51.100.1", "domain": "tutorials.zstack.org",
    "dns_servers": ["8.8.8.8"],
    "hosts": [
        {"mac": "FA:16:3E:00:00:31", "ip": "198.51.100.231", "hostname": "outer"},
        {"mac": "fa:16:3e:00:00:30", "ip": "198.51.100.230", "hostname": "inner"},
    ],
}


def test_one_static_entry_per_nic_sorted_by_address_with_names_under_the_domain():
    files = compile_dnsmasq(PLAN)
    assert files["dhcp-hosts"] == "fa:16:3e:00:00:30,198.51.100.230,inner\nfa:16:3e:00:00:31,198.51.100.231,outer\n"
    assert files["hosts"] == (
        "198.51.100.230 inner.tutorials.zstack.org inner\n198.51.100.231 outer.tutorials.zstack.org outer\n"
    )


def test_config_serves_only_known_macs_on_the_leg_with_the_l3_domain_gateway_and_dns():
    conf = compile_dnsmasq(PLAN)["dnsmasq.conf"].splitlines()
    for line in [
        "interface=eth0", "bind-interfaces", "no-resolv", "domain=tutorials.zstack.org",
        "local=/tutorials.zstack.org/", "server=8.8.8.8", "dhcp-range=198.51.100.0,static,255.255.255.0,86400",
        "dhcp-option=option:router,198.51.100.1", "dhcp-option=option:dns-server,198.51.100.2",
        "dhcp-hostsfile=/run/nimbo/routers/vr-1/dhcp-hosts", "addn-hosts=/run/nimbo/routers/vr-1/hosts",
    ]:
        assert line in conf


def test_no_domain_no_upstream_and_no_hosts():
    files = compile_dnsmasq({**PLAN, "domain": "", "dns_servers": [], "hosts": [
        {"mac": "fa:16:3e:00:00:30", "ip": "10.0.0.5", "hostname": ""}]})
    assert not [line for line in files["dnsmasq.conf"].splitlines() if line.startswith(("server=", "domain="))]
    assert files["dhcp-hosts"] == "fa:16:3e:00:00:30,10.0.0.5\n"
    assert files["hosts"] == ""


@pytest.mark.parametrize("entry, message", [
    ({"mac": "fa:16:3e:00:00", "ip": "10.0.0.5"}, "Invalid MAC address 'fa:16:3e:00:00'."),
    ({"mac": "fa:16:3e:00:00:30", "ip": "10.0.0.5", "hostname": "bad name\nserver=1.2.3.4"},
     "Invalid host name 'bad name\\nserver=1.2.3.4'."),
])
def test_entries_that_could_inject_configuration_are_refused(entry, message):
    with pytest.raises(ValueError) as exc:
        compile_dnsmasq({**PLAN, "hosts": [entry]})
    assert str(exc.value) == message


def test_nat_tables_follow_neutrons_layout():
    from apps.vrouter.compile import compile_nat, vip_addresses

    plan = {"private": {"dev": "eth0", "address": "10.0.0.1", "cidr": "10.0.0.0/24"},
            "public": {"dev": "eth1", "address": "198.51.100.231"}, "snat": True,
            "port_forwarding": [
                {"id": "a", "vip": "198.51.100.235", "protocol": "tcp", "vip_ports": [22, 22], "guest_ip": "10.0.0.5",
                 "guest_ports": [22, 22], "allowed_cidr": ""},
                {"id": "b", "vip": "198.51.100.235", "protocol": "udp", "vip_ports": [2222, 2222],
                 "guest_ip": "10.0.0.6", "guest_ports": [22, 22], "allowed_cidr": "203.0.113.0/24"},
                {"id": "c", "vip": "198.51.100.236", "protocol": "TCP", "vip_ports": [8000, 8010],
                 "guest_ip": "10.0.0.5", "guest_ports": [9000, 9010], "allowed_cidr": ""}],
            "eips": [{"id": "e", "vip": "198.51.100.237", "guest_ip": "10.0.0.7"}]}
    tables = compile_nat(plan)
    assert tables["nat"] == {
        "PREROUTING": ["-j nimbo-dnat"], "INPUT": [], "OUTPUT": ["-j nimbo-dnat"],
        "POSTROUTING": ["-j nimbo-snat", "-s 10.0.0.0/24 -o eth1 -j SNAT --to-source 198.51.100.231"],
        "nimbo-dnat": [
            "-d 198.51.100.235/32 -p tcp -m tcp --dport 22 -m comment --comment pf-a -j DNAT --to-destination 10.0.0.5",
            "-d 198.51.100.236/32 -p tcp -m tcp --dport 8000:8010 -m comment --comment pf-c -j DNAT "
            "--to-destination 10.0.0.5:9000-9010/8000",
            "-d 198.51.100.237/32 -m comment --comment eip-e -j DNAT --to-destination 10.0.0.7",
            "-s 203.0.113.0/24 -d 198.51.100.235/32 -p udp -m udp --dport 2222 -m comment --comment pf-b -j DNAT "
            "--to-destination 10.0.0.6:22"],
        "nimbo-snat": [
            "-s 10.0.0.0/24 -d 10.0.0.0/24 -o eth0 -m conntrack --ctstate DNAT -j SNAT --to-source 10.0.0.1",
            "-s 10.0.0.7/32 -o eth1 -m comment --comment eip-e -j SNAT --to-source 198.51.100.237"]}
    assert tables["filter"]["FORWARD"] == [
        "-i eth1 -o eth0 -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT", "-i eth1 -o eth0 -j DROP"]
    assert vip_addresses(plan) == ["198.51.100.235", "198.51.100.236", "198.51.100.237"]
    # No public leg: no SNAT, no EIP, nothing forwarded in, no VIP held.
    inside = compile_nat({**plan, "public": None})
    assert inside["nat"]["POSTROUTING"] == ["-j nimbo-snat"] and inside["filter"]["FORWARD"] == []
    assert vip_addresses({**plan, "public": None}) == []
    with pytest.raises(ValueError, match="same length"):
        compile_nat({**plan, "port_forwarding": [{**plan["port_forwarding"][0], "guest_ports": [22, 23]}]})
