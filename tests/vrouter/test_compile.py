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
