"""L2/L3 networks, IP ranges, DNS, services and VM records through the API: one test per rule,
with the exact error body, plus filters and a constant number of queries per list."""

import pytest

from apps.compute.models import VmInstance, VmNic
from apps.networks.models import IpRange, L2Network, L3Network
from tests.support.api import body, error
from tests.support.factories import (
    make_cluster,
    make_image,
    make_ip_range,
    make_l2,
    make_l3,
    make_offering,
    make_vm,
    make_zone,
)
from tests.support.resources import ResourceAPITests

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


class TestL2NetworkAPI(ResourceAPITests):
    url = "/api/v1/l2-networks/"
    model = L2Network
    kind = "L2Network"
    create_expected = {"name": "L2", "type": "L2NoVlanNetwork", "physical_interface": "eth0", "vlan": None}
    update_data = {"description": "flat"}
    frozen_fields = {"physical_interface": ("eth1", "Physical interface cannot be changed.")}
    duplicate_error = {"code": "duplicate", "field": None,
                       "message": "L2 network with this Zone and Name already exists."}
    required_error = {"code": "required", "field": "name", "message": "This field is required."}
    list_queries = 5  # session, user, count, page, attached clusters

    def create_data(self):
        return {"name": "L2", "zone": str(make_zone().uuid), "type": "L2NoVlanNetwork", "physical_interface": "eth0"}

    def make(self, i):
        """Row 0 alone (it can be deleted), the others on VLAN i, attached to a cluster."""
        if i == 0:
            return make_l2(name="L2-0")
        cluster = make_cluster(make_zone(name=f"ZONE-{i}"), name=f"CLUSTER-{i}")
        return make_l2(cluster.zone, name=f"L2-{i}", vlan=100 + i, clusters=[cluster])

    def filters(self):
        rows = [self.make(i) for i in range(3)]
        cluster = rows[2].clusters.get()
        return [({"type": "L2VlanNetwork"}, ["L2-1", "L2-2"]), ({"type": "L2NoVlanNetwork"}, ["L2-0"]),
                ({"clusters": str(cluster.uuid)}, ["L2-2"])]


def test_attach_rules(api):
    cluster = make_cluster()
    flat, vlan = make_l2(cluster.zone, clusters=[cluster]), make_l2(cluster.zone, name="V100", vlan=100)
    attach = "/api/v1/l2-networks/{}/attach/"
    assert error(post(api, attach.format(flat.uuid), {"cluster": str(cluster.uuid)}), 409) == {
        "code": "conflict", "field": "cluster",
        "message": "L2 network FLAT-L2 is already attached to cluster CLUSTER1."}
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


class TestL3NetworkAPI(ResourceAPITests):
    url = "/api/v1/l3-networks/"
    model = L3Network
    kind = "L3Network"
    create_expected = {"name": "L3", "system": False, "dns": [], "network_services": []}
    update_data = {"description": "guests", "dns_domain": "example.org"}
    frozen_fields = {"l2_network": (lambda self: str(make_l2(self.l2().zone, name="OTHER", interface="eth1").uuid),
                                    "L2 network cannot be changed.")}
    duplicate_error = {"code": "duplicate", "field": None,
                       "message": "L3 network with this L2 network and Name already exists."}
    required_error = {"code": "required", "field": "name", "message": "This field is required."}
    list_queries = 7  # session, user, count, page, DNS, services, ranges

    def create_data(self):
        return {"name": "L3", "l2_network": str(self.l2().uuid)}

    def l2(self):
        if not hasattr(self, "_l2"):
            self._l2 = make_l2()
        return self._l2

    def make(self, i):
        """With a range, two DNS servers and services: what a list must not fetch row by row."""
        return make_l3(self.l2(), name=f"L3-{i}", cidr=f"10.{i}.0.0/24", dns=["8.8.8.8", "1.1.1.1"],
                       services=["DHCP", "DNS", "SecurityGroup"] if i else ["PortForwarding"], system=i == 2)

    def filters(self):
        for i in range(3):
            self.make(i)
        vlan = make_l2(self.l2().zone, name="V100", vlan=100)
        make_l3(vlan, name="PRIVATE")
        return [({"system": "true"}, ["L3-2"]), ({"network_services__service_type": "PortForwarding"}, ["L3-0"]),
                ({"l2_network": str(vlan.uuid)}, ["PRIVATE"])]


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
    ({"SecurityGroup": ["DHCP"]}, 400, {
        "code": "invalid", "field": "services",
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


class TestIpRangeAPI(ResourceAPITests):
    """Made through their L3 network (`/l3-networks/{uuid}/ip-ranges/`, below); listed, changed and deleted here."""

    url = "/api/v1/ip-ranges/"
    model = IpRange
    kind = "IpRange"
    update_data = {"name": "RENAMED", "description": "guests"}
    list_queries = 4

    def make(self, i):
        if not hasattr(self, "_l3"):
            self._l3 = make_l3()
        return make_ip_range(self._l3, name=f"R{i}", cidr=f"10.{i}.0.0/24")

    def filters(self):
        rows = [self.make(i) for i in range(2)]
        other = make_l3(rows[0].l3_network.l2_network, name="OTHER")
        make_ip_range(other, name="R9", cidr="10.9.0.0/24")
        return [({"l3_network": str(other.uuid)}, ["R9"])]

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
    assert error(post(api, url, {**RANGE, "start_ip": "10.0.0.50", "end_ip": "10.0.0.60"}), 409)["message"] == (
        "IP range with this L3 network and Name already exists.")
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


class TestVmRecordAPI(ResourceAPITests):
    url = "/api/v1/vms/"
    model = VmInstance
    kind = "VmInstance"
    create_expected = {"name": "VM1", "hostname": "vm1", "type": "UserVm"}
    update_data = {"description": "web"}
    required_error = {"code": "required", "field": "name", "message": "This field is required."}
    list_queries = 5  # session, user, count, page, NICs

    def l3(self):
        if not hasattr(self, "_l3"):
            self._l3 = make_l3(cidr="10.0.0.0/24")
        return self._l3

    def create_data(self):
        return {"name": "VM1", "hostname": "vm1", "instance_offering": str(make_offering().uuid),
                "image": str(make_image().uuid), "l3_networks": [str(self.l3().uuid)]}

    def make(self, i):
        return make_vm(name=f"VM{i}", l3s=[self.l3()], state="Stopped")


class TestVmNicAPI(ResourceAPITests):
    url = "/api/v1/vm-nics/"
    model = VmNic
    name_field = "ip"
    read_only = True
    list_queries = 4

    def make(self, i):
        if not hasattr(self, "_l3"):
            self._l3 = make_l3(cidr="10.0.0.0/24")
        return make_vm(name=f"VM{i}", l3s=[self._l3]).nics.get()

    def filters(self):
        nics = [self.make(i) for i in range(3)]
        return [({"vm_instance": str(nics[1].vm_instance.uuid)}, [nics[1].ip]), ({"ip": nics[2].ip}, [nics[2].ip])]


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

