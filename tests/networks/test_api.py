"""L2/L3 networks, IP ranges, DNS, services and VM records through the API: one test per rule,
with the exact error body, plus filters and a constant number of queries per list."""

import pytest

from apps.networks.models import IpRange, L2Network
from tests.support.api import body, error
from tests.support.factories import make_cluster, make_image, make_ip_range, make_l2, make_l3, make_offering, make_vm, make_zone

pytestmark = pytest.mark.django_db


def post(api, url, data):
    return api.post(url, data, format="json")


# --- L2 networks -------------------------------------------------------------------------------------


@pytest.fixture
def zone():
    return make_zone()


@pytest.mark.parametrize("payload, status, expected", [
    ({"type": "L2VlanNetwork"}, 400, {"code": "invalid", "field": "vlan",
                                      "message": "An L2VlanNetwork needs a VLAN (1-4094)."}),
    ({"type": "L2VlanNetwork", "vlan": 0}, 400, {"code": "min_value", "field": "vlan",
                                                 "message": "Ensure this value is greater than or equal to 1."}),
    ({"type": "L2VlanNetwork", "vlan": 4095}, 400, {"code": "max_value", "field": "vlan",
                                                    "message": "Ensure this value is less than or equal to 4094."}),
    ({"vlan": 100}, 400, {"code": "invalid", "field": "vlan", "message": "An L2NoVlanNetwork has no VLAN."}),
    ({"physical_interface": "eth 0"}, 400, {"code": "invalid", "field": "physical_interface", "message": (
        "Enter a Linux interface name: up to 15 letters, digits, '_', '.' or '-', such as eth0.")}),
    ({"physical_interface": "a" * 16}, 400, {"code": "invalid", "field": "physical_interface", "message": (
        "Enter a Linux interface name: up to 15 letters, digits, '_', '.' or '-', such as eth0.")}),
    ({"type": "L2VlanNetwork", "vlan": 4094, "physical_interface": "enp0s31f6abc"}, 400, {
        "code": "invalid", "field": "physical_interface", "message": (
            "The VLAN interface enp0s31f6abc.4094 would be longer than 15 characters; use a shorter interface name.")}),
    ({"type": "L3"}, 400, {"code": "invalid_choice", "field": "type", "message": '"L3" is not a valid choice.'}),
])
def test_l2_validation(api, zone, payload, status, expected):
    data = {"name": "L2", "zone": str(zone.uuid), "type": "L2NoVlanNetwork", "physical_interface": "eth0", **payload}
    assert error(post(api, "/api/v1/l2-networks/", data), status) == expected
    assert not L2Network.objects.exists()


def test_l2_name_unique_per_zone_and_frozen_wire(api, zone):
    data = {"name": "L2", "zone": str(zone.uuid), "type": "L2NoVlanNetwork", "physical_interface": "eth0"}
    l2 = body(post(api, "/api/v1/l2-networks/", data), 201)
    assert error(post(api, "/api/v1/l2-networks/", data), 409) == {
        "code": "duplicate", "field": None, "message": "L2 network with this Zone and Name already exists."}
    assert error(api.patch(f"/api/v1/l2-networks/{l2['uuid']}/", {"physical_interface": "eth1"}, format="json"),
                 400) == {"code": "invalid", "field": "physical_interface",
                          "message": "Physical interface cannot be changed."}
    assert body(api.patch(f"/api/v1/l2-networks/{l2['uuid']}/", {"description": "flat"}, format="json"),
                200)["description"] == "flat"


def test_attach_rules(api):
    cluster = make_cluster()
    flat, vlan = make_l2(cluster.zone, clusters=[cluster]), make_l2(cluster.zone, name="V100", vlan=100)
    attach = f"/api/v1/l2-networks/{{}}/attach/"
    assert error(post(api, attach.format(flat.uuid), {"cluster": str(cluster.uuid)}), 409) == {
        "code": "conflict", "field": "cluster", "message": "L2 network FLAT-L2 is already attached to cluster CLUSTER1."}
    same_wire = make_l2(cluster.zone, name="ALSO-ETH0")
    assert error(post(api, attach.format(same_wire.uuid), {"cluster": str(cluster.uuid)}), 409) == {
        "code": "conflict", "field": "cluster",
        "message": "Cluster CLUSTER1 already has L2 network FLAT-L2 on interface eth0."}
    body(post(api, attach.format(vlan.uuid), {"cluster": str(cluster.uuid)}), 200)  # eth0.100 is another wire
    same_vlan = make_l2(cluster.zone, name="ALSO-V100", vlan=100)
    assert error(post(api, attach.format(same_vlan.uuid), {"cluster": str(cluster.uuid)}), 409) == {
        "code": "conflict", "field": "cluster",
        "message": "Cluster CLUSTER1 already has L2 network V100 on interface eth0 VLAN 100."}
    elsewhere = make_cluster(make_zone(name="ZONE2"), name="CLUSTER2")
    assert error(post(api, attach.format(vlan.uuid), {"cluster": str(elsewhere.uuid)}), 400) == {
        "code": "invalid", "field": "cluster",
        "message": "Cluster CLUSTER2 is in zone ZONE2, not in the L2 network's zone ZONE1."}
    assert error(post(api, attach.format(vlan.uuid), {}), 400) == {
        "code": "required", "field": "cluster", "message": "This field is required."}


def test_detach_and_delete_in_use(api):
    cluster = make_cluster()
    l2 = make_l2(clusters=[cluster])
    l3 = make_l3(l2, cidr="10.0.0.0/24")
    vm = make_vm(l3s=[l3], cluster=cluster)
    url = f"/api/v1/l2-networks/{l2.uuid}"
    assert error(api.delete(f"{url}/"), 409) == {
        "code": "in_use", "field": None,
        "message": "L2 network FLAT-L2 is attached to cluster CLUSTER1; detach it first."}
    assert error(post(api, f"{url}/detach/", {"cluster": str(cluster.uuid)}), 409) == {
        "code": "in_use", "field": "cluster", "message": "VM VM1 in cluster CLUSTER1 still uses L2 network FLAT-L2."}
    vm.nics.all().delete()
    assert body(post(api, f"{url}/detach/", {"cluster": str(cluster.uuid)}), 200)["attached_clusters"] == []
    assert error(api.delete(f"{url}/"), 409) == {
        "code": "in_use", "field": None, "message": "L2 network FLAT-L2 still carries L3 network FLAT-L3."}
    assert error(post(api, f"{url}/detach/", {"cluster": str(cluster.uuid)}), 409) == {
        "code": "conflict", "field": "cluster", "message": "L2 network FLAT-L2 is not attached to cluster CLUSTER1."}


# --- L3 networks -------------------------------------------------------------------------------------


@pytest.mark.parametrize("domain", ["-bad.org", "a..b", "under_score.org", "x" * 64 + ".org", "example.123"])
def test_l3_dns_domain_is_validated(api, domain):
    l2 = make_l2()
    assert error(post(api, "/api/v1/l3-networks/", {"name": "L3", "l2_network": str(l2.uuid),
                                                    "dns_domain": domain}), 400) == {
        "code": "invalid", "field": "dns_domain", "message": "Enter a DNS domain such as example.org."}


def test_l3_name_unique_on_its_l2_and_l2_frozen(api):
    l3 = make_l3()
    assert error(post(api, "/api/v1/l3-networks/", {"name": "FLAT-L3", "l2_network": str(l3.l2_network.uuid)}),
                 409)["message"] == "L3 network with this L2 network and Name already exists."
    other = make_l2(l3.l2_network.zone, name="OTHER", interface="eth1")
    assert error(api.patch(f"/api/v1/l3-networks/{l3.uuid}/", {"l2_network": str(other.uuid)}, format="json"),
                 400) == {"code": "invalid", "field": "l2_network", "message": "L2 network cannot be changed."}


def test_dns_servers_are_ordered_unique_addresses(api):
    l3 = make_l3()
    url = f"/api/v1/l3-networks/{l3.uuid}"
    for address in ("8.8.8.8", "1.1.1.1", "2001:4860:4860::8888"):
        body(post(api, f"{url}/dns/", {"dns": address}), 200)
    assert body(api.get(f"{url}/"), 200)["dns"] == ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888"]
    assert error(post(api, f"{url}/dns/", {"dns": "8.8.8.8"}), 409) == {
        "code": "duplicate", "field": "dns", "message": "DNS server 8.8.8.8 is already on L3 network FLAT-L3."}
    assert error(post(api, f"{url}/dns/", {"dns": "8.8.8"}), 400) == {
        "code": "invalid", "field": "dns", "message": "Enter a valid IPv4 or IPv6 address."}
    assert body(post(api, f"{url}/remove-dns/", {"dns": "1.1.1.1"}), 200)["dns"] == ["8.8.8.8", "2001:4860:4860::8888"]
    assert error(post(api, f"{url}/remove-dns/", {"dns": "1.1.1.1"}), 404) == {
        "code": "not_found", "field": "dns", "message": "DNS server 1.1.1.1 is not on L3 network FLAT-L3."}


@pytest.mark.parametrize("services, status, expected", [
    ({"VirtualRouter": ["SecurityGroup"]}, 400, {"code": "invalid", "field": "services", "message": (
        "Provider VirtualRouter does not offer SecurityGroup; it offers DHCP, DNS, SNAT, PortForwarding, Eip.")}),
    ({"SecurityGroup": ["DHCP"]}, 400, {"code": "invalid", "field": "services",
                                        "message": "Provider SecurityGroup does not offer DHCP; it offers SecurityGroup."}),
    ({"Flat": ["DHCP"]}, 400, {"code": "invalid", "field": "services", "message": (
        "Unknown network service provider Flat; known: VirtualRouter, SecurityGroup.")}),
    ({"VirtualRouter": ["LoadBalancer"]}, 400, {"code": "invalid", "field": "services",
                                                "message": "Unknown network service type LoadBalancer."}),
    ({"VirtualRouter": ["DHCP", "DHCP"]}, 400, {"code": "invalid", "field": "services",
                                                "message": "DHCP is given twice."}),
    ({"VirtualRouter": []}, 400, {"code": "invalid", "field": "services",
                                  "message": "Give the service types of VirtualRouter as a non-empty list."}),
    ({}, 400, {"code": "invalid", "field": "services",
               "message": "Give services as {provider: [service type, ...]}."}),
    ({"VirtualRouter": ["DNS"]}, 409, {"code": "conflict", "field": "services",
                                       "message": "DNS is already offered on L3 network FLAT-L3 by VirtualRouter."}),
])
def test_network_service_rules(api, services, status, expected):
    l3 = make_l3(services={"DNS": "VirtualRouter"})
    assert error(post(api, f"/api/v1/l3-networks/{l3.uuid}/network-services/", {"services": services}),
                 status) == expected
    assert l3.service_types() == {"DNS"}


def test_detach_service(api):
    l3 = make_l3(services=["DHCP", "SecurityGroup"])
    url = f"/api/v1/l3-networks/{l3.uuid}/detach-network-service/"
    assert body(post(api, url, {"service_type": "DHCP"}), 200)["network_services"] == [
        {"provider": "SecurityGroup", "service_type": "SecurityGroup"}]
    assert error(post(api, url, {"service_type": "DHCP"}), 404)["message"] == \
        "DHCP is not offered on L3 network FLAT-L3."
    assert l3.has_service("SecurityGroup") and not l3.has_service("DHCP")


# --- IP ranges ---------------------------------------------------------------------------------------

RANGE = {"name": "R", "start_ip": "10.0.0.10", "end_ip": "10.0.0.20", "netmask": "255.255.255.0",
         "gateway": "10.0.0.1"}


@pytest.mark.parametrize("payload, field, message", [
    ({"start_ip": "10.0.0.300"}, "start_ip", "Enter a valid IPv4 address."),
    ({"start_ip": "fe80::1"}, "start_ip", "Enter a valid IPv4 address."),
    ({"netmask": "255.0.255.0"}, "netmask", "Enter a valid IPv4 netmask such as 255.255.255.0."),
    ({"end_ip": "10.0.0.5"}, "end_ip", "End IP 10.0.0.5 is lower than start IP 10.0.0.10."),
    ({"end_ip": "10.0.1.20"}, "end_ip", "10.0.1.20 is not in the subnet 10.0.0.0/24 of gateway 10.0.0.1."),
    ({"start_ip": "10.0.0.0"}, "start_ip", "10.0.0.0 is the network address of 10.0.0.0/24."),
    ({"end_ip": "10.0.0.255"}, "end_ip", "10.0.0.255 is the broadcast address of 10.0.0.0/24."),
    ({"gateway": "10.0.0.15"}, "gateway", "Gateway 10.0.0.15 must be outside the range 10.0.0.10-10.0.0.20."),
    ({"gateway": "10.0.1.1"}, "start_ip", "10.0.0.10 is not in the subnet 10.0.1.0/24 of gateway 10.0.1.1."),
    ({"gateway": None}, "gateway", "This field is required (or give network_cidr)."),
    ({"network_cidr": "10.0.0.0/24"}, "network_cidr",
     "Give either network_cidr or start_ip/end_ip/netmask/gateway, not both."),
])
def test_ip_range_rules(api, payload, field, message):
    l3 = make_l3()
    data = {k: v for k, v in {**RANGE, **payload}.items() if v is not None}
    err = error(post(api, f"/api/v1/l3-networks/{l3.uuid}/ip-ranges/", data), 400)
    assert (err["field"], err["message"]) == (field, message)
    assert not IpRange.objects.exists()


@pytest.mark.parametrize("cidr, message", [
    ("10.0.0.5/24", "10.0.0.5/24 is not a network address; did you mean 10.0.0.0/24?"),
    ("10.0.0.0/31", "The network needs at least 4 addresses (a prefix of /30 or shorter)."),
    ("10.0.0.0/33", "Enter an IPv4 network in CIDR notation, such as 10.0.0.0/24."),
    ("banana", "Enter an IPv4 network in CIDR notation, such as 10.0.0.0/24."),
])
def test_ip_range_by_cidr_rules(api, cidr, message):
    l3 = make_l3()
    assert error(post(api, f"/api/v1/l3-networks/{l3.uuid}/ip-ranges/", {"name": "R", "network_cidr": cidr}), 400) == {
        "code": "invalid", "field": "network_cidr", "message": message}


def test_ranges_of_one_l3_do_not_overlap_and_share_gateway_and_netmask(api):
    l3 = make_l3()
    url = f"/api/v1/l3-networks/{l3.uuid}/ip-ranges/"
    body(post(api, url, RANGE), 201)
    assert error(post(api, url, {**RANGE, "name": "R2", "start_ip": "10.0.0.20", "end_ip": "10.0.0.30"}), 400) == {
        "code": "invalid", "field": "start_ip",
        "message": "The range 10.0.0.20-10.0.0.30 overlaps IP range R (10.0.0.10-10.0.0.20)."}
    assert error(post(api, url, {**RANGE, "name": "R2", "start_ip": "10.0.0.30", "end_ip": "10.0.0.40",
                                 "gateway": "10.0.0.254"}), 400) == {
        "code": "invalid", "field": "gateway",
        "message": "All IP ranges of L3 network FLAT-L3 share gateway 10.0.0.1 and netmask 255.255.255.0."}
    assert error(post(api, url, {**RANGE, "name": "R2", "start_ip": "10.0.0.130", "end_ip": "10.0.0.140",
                                 "netmask": "255.255.0.0"}), 400)["field"] == "gateway"
    assert error(post(api, url, {**RANGE, "start_ip": "10.0.0.50", "end_ip": "10.0.0.60"}), 409)["message"] == "IP range with this L3 network and Name already exists."
    body(post(api, url, {**RANGE, "name": "R2", "start_ip": "10.0.0.21", "end_ip": "10.0.0.30"}), 201)
    # The same addresses on another L3 network are fine.
    other = make_l3(l3.l2_network, name="OTHER")
    body(post(api, f"/api/v1/l3-networks/{other.uuid}/ip-ranges/", RANGE), 201)


def test_deleting_a_range_or_l3_with_used_addresses_is_refused(api):
    l3 = make_l3(cidr="10.0.0.0/24")
    make_vm(l3s=[l3])
    ip_range = l3.ip_ranges.get()
    assert error(api.delete(f"/api/v1/ip-ranges/{ip_range.uuid}/"), 409) == {
        "code": "in_use", "field": None,
        "message": "IP range FLAT-L3-RANGE-10.0.0.2 still has 1 address in use: 10.0.0.2."}
    assert error(api.delete(f"/api/v1/l3-networks/{l3.uuid}/"), 409) == {
        "code": "in_use", "field": None, "message": "L3 network FLAT-L3 still has 1 address in use: 10.0.0.2."}
    free = make_l3(l3.l2_network, name="FREE", cidr="10.1.0.0/24", dns=["8.8.8.8"], services=["DHCP"])
    assert api.delete(f"/api/v1/l3-networks/{free.uuid}/").status_code == 204  # its ranges, DNS, services go too
    assert not IpRange.objects.filter(l3_network_id=free.pk).exists()


# --- VM records ----------------------------------------------------------------------------------------


@pytest.fixture
def vm_input():
    l3 = make_l3(cidr="10.0.0.0/24")
    return {"name": "VM1", "hostname": "vm1", "instance_offering": str(make_offering().uuid),
            "image": str(make_image().uuid), "l3_networks": [str(l3.uuid)]}, l3


@pytest.mark.parametrize("hostname", ["-vm", "vm-", "vm_1", "v" * 64, "vm.example", "123"])
def test_vm_hostname_is_a_dns_label(api, vm_input, hostname):
    data, _ = vm_input
    err = error(post(api, "/api/v1/vms/", {**data, "hostname": hostname}), 400)
    assert err["field"] == "hostname"


def test_vm_rules(api, vm_input):
    data, l3 = vm_input
    system_image = make_image("VIRTUAL-ROUTER", system=True)
    assert error(post(api, "/api/v1/vms/", {**data, "image": str(system_image.uuid)}), 400) == {
        "code": "invalid", "field": "image", "message": "Image VIRTUAL-ROUTER is a System image, for appliances only."}
    assert error(post(api, "/api/v1/vms/", {**data, "l3_networks": []}), 400) == {
        "code": "invalid", "field": "l3_networks", "message": "A VM needs at least one L3 network."}
    assert error(post(api, "/api/v1/vms/", {**data, "l3_networks": [str(l3.uuid)] * 2}), 400) == {
        "code": "invalid", "field": "l3_networks", "message": "L3 network FLAT-L3 is given twice."}
    far = make_l3(make_l2(make_zone(name="ZONE2"), name="FAR-L2"), name="FAR", cidr="10.5.0.0/24")
    assert error(post(api, "/api/v1/vms/", {**data, "l3_networks": [str(l3.uuid), str(far.uuid)]}), 400) == {
        "code": "invalid", "field": "l3_networks", "message": "L3 network FAR is not in zone ZONE1."}
    vm = body(post(api, "/api/v1/vms/", {**data, "static_ips": {str(l3.uuid): "10.0.0.77"}}), 201)
    assert vm["nics"][0]["ip"] == "10.0.0.77"
    assert error(post(api, "/api/v1/vms/", {**data, "name": "VM2", "static_ips": {str(l3.uuid): "10.0.0.77"}}),
                 409) == {"code": "ip_in_use", "field": "ip",
                          "message": "IP address 10.0.0.77 is already in use on L3 network FLAT-L3."}
    # Nothing half-written: the refused VM left no row and no address.
    assert body(api.get("/api/v1/vms/"), 200)["count"] == 1
    assert [u["ip"] for u in body(api.get(f"/api/v1/l3-networks/{l3.uuid}/used-ips/"), 200)["results"]] == [
        "10.0.0.77"]
    assert api.delete(f"/api/v1/vms/{vm['uuid']}/").status_code == 204
    assert body(api.get(f"/api/v1/l3-networks/{l3.uuid}/used-ips/"), 200)["count"] == 0


def test_exhausted_range_is_a_409_through_the_api(api, vm_input):
    data, l3 = vm_input
    small = make_l3(l3.l2_network, name="SMALL")
    make_ip_range(small, start_ip="10.9.0.2", end_ip="10.9.0.2", netmask="255.255.255.0", gateway="10.9.0.1")
    body(post(api, "/api/v1/vms/", {**data, "l3_networks": [str(small.uuid)]}), 201)
    assert error(post(api, "/api/v1/vms/", {**data, "name": "VM2", "l3_networks": [str(small.uuid)]}), 409) == {
        "code": "ip_range_exhausted", "field": "l3_network",
        "message": "No free IP address is left in the IP ranges of L3 network SMALL."}


# --- Lists ---------------------------------------------------------------------------------------------


def test_list_endpoints_keep_a_constant_number_of_queries(api, django_assert_max_num_queries):
    cluster = make_cluster()
    for i in range(8):
        l2 = make_l2(cluster.zone, name=f"L2-{i}", interface=f"eth{i}", clusters=[cluster])
        l3 = make_l3(l2, name=f"L3-{i}", cidr=f"10.{i}.0.0/24", dns=["8.8.8.8", "1.1.1.1"],
                     services=["DHCP", "DNS", "SecurityGroup"])
        make_vm(name=f"VM{i}", l3s=[l3])
    # session + user + count + page + prefetches: the same for 8 rows as for 1
    for url, queries in [("/api/v1/l2-networks/", 5), ("/api/v1/l3-networks/", 7), ("/api/v1/ip-ranges/", 4),
                         ("/api/v1/vms/", 5), ("/api/v1/vm-nics/", 4)]:
        with django_assert_max_num_queries(queries):
            assert body(api.get(url), 200)["count"] == 8, url


def test_filters(api):
    cluster = make_cluster()
    flat = make_l2(cluster.zone, clusters=[cluster])
    vlan = make_l2(cluster.zone, name="V100", vlan=100)
    make_l3(flat, name="PUBLIC", system=True)
    make_l3(vlan, name="PRIVATE", services=["PortForwarding"])
    names = lambda url, **q: [r["name"] for r in body(api.get(url, q), 200)["results"]]  # noqa: E731
    assert names("/api/v1/l2-networks/", type="L2VlanNetwork") == ["V100"]
    assert names("/api/v1/l2-networks/", clusters=str(cluster.uuid)) == ["FLAT-L2"]
    assert names("/api/v1/l3-networks/", system="true") == ["PUBLIC"]
    assert names("/api/v1/l3-networks/", network_services__service_type="PortForwarding") == ["PRIVATE"]
    assert names("/api/v1/l3-networks/", l2_network=str(vlan.uuid)) == ["PRIVATE"]
