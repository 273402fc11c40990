"""Scenario 02's network steps through the REST API (shared/scenarios/02-port-forwarding-vlan.md):
a public System L3 on eth0, a private VLAN 100 L3 by CIDR behind the router's services, VIPs and
port forwarding rules moved between VM1 and VM2. Every reply is asserted whole."""

import pytest

from tests.support.api import body, error
from tests.support.factories import make_cluster, make_image, make_offering

pytestmark = pytest.mark.django_db


def test_scenario_02_network(api):
    cluster = make_cluster()
    zone, cluster_uuid = str(cluster.zone.uuid), str(cluster.uuid)
    offering, image = str(make_offering().uuid), str(make_image("ttylinux").uuid)

    # 1-2. PUBLIC-MANAGEMENT-L2 on eth0 and PRIVATE-L2 on eth0 VLAN 100, both attached to CLUSTER1.
    public_l2 = body(api.post("/api/v1/l2-networks/", {"name": "PUBLIC-MANAGEMENT-L2", "zone": zone,
                                                       "type": "L2NoVlanNetwork", "physical_interface": "eth0"},
                              format="json"), 201)
    private_l2 = body(api.post("/api/v1/l2-networks/", {"name": "PRIVATE-L2", "zone": zone, "type": "L2VlanNetwork",
                                                        "vlan": 100, "physical_interface": "eth0"},
                               format="json"), 201)
    assert private_l2 == {"uuid": private_l2["uuid"], "name": "PRIVATE-L2", "description": "", "zone": zone,
                          "zone_name": "ZONE1", "type": "L2VlanNetwork", "physical_interface": "eth0", "vlan": 100,
                          "bridge_name": "br_eth0_100", "vlan_interface": "eth0.100", "attached_clusters": []}
    for l2 in (public_l2, private_l2):
        reply = body(api.post(f"/api/v1/l2-networks/{l2['uuid']}/attach/", {"cluster": cluster_uuid},
                              format="json"), 200)
        assert reply == {**l2, "attached_clusters": [cluster_uuid]}

    # 3. PUBLIC-MANAGEMENT-L3: System, a range, no DNS, no services.
    public = body(api.post("/api/v1/l3-networks/", {"name": "PUBLIC-MANAGEMENT-L3", "l2_network": public_l2["uuid"],
                                                    "system": True}, format="json"), 201)
    public_range = body(api.post(f"/api/v1/l3-networks/{public['uuid']}/ip-ranges/", {
        "name": "PUBLIC-IP-RANGE", "start_ip": "198.51.100.230", "end_ip": "198.51.100.240",
        "netmask": "255.255.255.0", "gateway": "198.51.100.1"}, format="json"), 201)
    assert body(api.get(f"/api/v1/l3-networks/{public['uuid']}/"), 200) == {
        "uuid": public["uuid"], "name": "PUBLIC-MANAGEMENT-L3", "description": "", "l2_network": public_l2["uuid"],
        "l2_network_name": "PUBLIC-MANAGEMENT-L2", "zone": zone, "type": "L3BasicNetwork", "system": True,
        "dns_domain": "", "dns": [], "network_services": [], "ip_ranges": [public_range], "project": None,
        "shared": False}

    # 4. PRIVATE-L3 by CIDR 10.0.0.0/24, DNS 8.8.8.8, VirtualRouter DHCP, DNS, SNAT, PortForwarding.
    private = body(api.post("/api/v1/l3-networks/", {"name": "PRIVATE-L3", "l2_network": private_l2["uuid"],
                                                     "dns_domain": "tutorials.zstack.org"}, format="json"), 201)
    url = f"/api/v1/l3-networks/{private['uuid']}"
    private_range = body(api.post(f"{url}/ip-ranges/", {"name": "PRIVATE-IP-RANGE", "network_cidr": "10.0.0.0/24"},
                                  format="json"), 201)
    assert private_range == {"uuid": private_range["uuid"], "name": "PRIVATE-IP-RANGE", "description": "",
                             "l3_network": private["uuid"], "start_ip": "10.0.0.2", "end_ip": "10.0.0.254",
                             "netmask": "255.255.255.0", "gateway": "10.0.0.1", "network_cidr": "10.0.0.0/24"}
    body(api.post(f"{url}/dns/", {"dns": "8.8.8.8"}, format="json"), 200)
    private = body(api.post(f"{url}/network-services/", {"services": {
        "VirtualRouter": ["DHCP", "DNS", "SNAT", "PortForwarding"]}}, format="json"), 200)
    assert private["network_services"] == [{"provider": "VirtualRouter", "service_type": t}
                                           for t in ("DHCP", "DNS", "PortForwarding", "SNAT")]
    assert private["dns"] == ["8.8.8.8"] and private["ip_ranges"] == [private_range]

    # 5. VR-OFFERING on PUBLIC-MANAGEMENT-L3, default.
    vr = body(api.post("/api/v1/virtual-router-offerings/", {
        "name": "VR-OFFERING", "zone": zone, "cpu_num": 1, "memory_size": "512M",
        "management_l3": public["uuid"], "public_l3": public["uuid"], "is_default": True}, format="json"), 201)
    assert (vr["management_l3"], vr["public_l3"], vr["is_default"], vr["image"]) == (
        public["uuid"], public["uuid"], True, None)

    # A user VM never goes on the System network.
    assert error(api.post("/api/v1/vms/", {"name": "X", "instance_offering": offering, "image": image,
                                           "l3_networks": [public["uuid"]]}, format="json"), 400) == {
        "code": "invalid", "field": "l3_networks",
        "message": "L3 network PUBLIC-MANAGEMENT-L3 is a System network; user VMs cannot use it."}

    # 6. VM1 on PRIVATE-L3 (running once the lifecycle has booted it).
    def make_vm(name):
        vm = body(api.post("/api/v1/vms/", {"name": name, "hostname": name.lower(), "instance_offering": offering,
                                            "image": image, "l3_networks": [private["uuid"]], "start": False},
                                  format="json"), 201)
        from apps.compute.models import VmInstance

        VmInstance.objects.filter(pk=vm["uuid"]).update(state="Running")
        return vm["uuid"], vm["nics"][0]

    vm1, nic1 = make_vm("VM1")
    assert (nic1["ip"], nic1["gateway"]) == ("10.0.0.2", "10.0.0.1")

    # 7. PORT-FORWARDING1: a new VIP on PUBLIC-MANAGEMENT-L3, TCP 22-22 -> 22-22, VM1.
    vip1 = body(api.post("/api/v1/vips/", {"name": "VIP-PF1", "l3_network": public["uuid"]}, format="json"), 201)
    assert vip1 == {"uuid": vip1["uuid"], "name": "VIP-PF1", "description": "", "l3_network": public["uuid"],
                    "ip": "198.51.100.230", "netmask": "255.255.255.0", "gateway": "198.51.100.1",
                    "state": "Enabled", "snat": False, "use_for": []}
    pf1 = body(api.post("/api/v1/port-forwarding-rules/", {
        "name": "PORT-FORWARDING1", "vip": vip1["uuid"], "protocol": "TCP", "vip_port_start": 22, "vip_port_end": 22,
        "guest_port_start": 22, "guest_port_end": 22, "vm_nic": nic1["uuid"]}, format="json"), 201)
    assert pf1 == {"uuid": pf1["uuid"], "name": "PORT-FORWARDING1", "description": "", "vip": vip1["uuid"],
                   "vip_ip": "198.51.100.230", "protocol": "TCP", "vip_port_start": 22, "vip_port_end": 22,
                   "guest_port_start": 22, "guest_port_end": 22, "allowed_cidr": "", "state": "Enabled",
                   "vm_nic": nic1["uuid"], "vm_instance": vm1, "guest_ip": "10.0.0.2"}
    assert body(api.get(f"/api/v1/vips/{vip1['uuid']}/"), 200)["use_for"] == ["PortForwarding"]

    # 9. VM2 on PRIVATE-L3.
    vm2, nic2 = make_vm("VM2")
    assert nic2["ip"] == "10.0.0.3"

    # 10. Detach PORT-FORWARDING1 (it stays, bound to nothing); the candidates are VM1's and VM2's NICs.
    detached = body(api.post(f"/api/v1/port-forwarding-rules/{pf1['uuid']}/detach/"), 200)
    assert detached == {**pf1, "vm_nic": None, "vm_instance": None, "guest_ip": None}
    candidates = body(api.get(f"/api/v1/port-forwarding-rules/{pf1['uuid']}/attachable-nics/"), 200)
    assert candidates == {"count": 2, "next": None, "previous": None, "results": [
        {"uuid": nic1["uuid"], "vm_instance": vm1, "vm_instance_name": "VM1", "l3_network": private["uuid"],
         "l3_network_name": "PRIVATE-L3", "ip": "10.0.0.2", "mac": nic1["mac"]},
        {"uuid": nic2["uuid"], "vm_instance": vm2, "vm_instance_name": "VM2", "l3_network": private["uuid"],
         "l3_network_name": "PRIVATE-L3", "ip": "10.0.0.3", "mac": nic2["mac"]}]}
    attached = body(api.post(f"/api/v1/port-forwarding-rules/{pf1['uuid']}/attach/", {"vm_nic": nic2["uuid"]},
                             format="json"), 200)
    assert attached == {**pf1, "vm_nic": nic2["uuid"], "vm_instance": vm2, "guest_ip": "10.0.0.3"}

    # 12. PORT-FORWARDING2: another new VIP, TCP 2222 -> 22, VM1.
    vip2 = body(api.post("/api/v1/vips/", {"name": "VIP-PF2", "l3_network": public["uuid"]}, format="json"), 201)
    pf2 = body(api.post("/api/v1/port-forwarding-rules/", {
        "name": "PORT-FORWARDING2", "vip": vip2["uuid"], "protocol": "TCP", "vip_port_start": 2222,
        "vip_port_end": 2222, "guest_port_start": 22, "guest_port_end": 22, "vm_nic": nic1["uuid"]},
        format="json"), 201)
    assert (pf2["vip_ip"], pf2["guest_ip"], pf2["vm_instance"]) == ("198.51.100.231", "10.0.0.2", vm1)

    # What must hold besides: overlapping VIP ports on one VIP and protocol are refused...
    assert error(api.post("/api/v1/port-forwarding-rules/", {
        "name": "CLASH", "vip": vip1["uuid"], "protocol": "TCP", "vip_port_start": 20, "vip_port_end": 30},
        format="json"), 409) == {
        "code": "port_conflict", "field": "vip_port_start",
        "message": "VIP ports 20-30/TCP overlap rule PORT-FORWARDING1 (22-22) on VIP VIP-PF1."}
    # ...UDP on the same ports is another protocol...
    udp = body(api.post("/api/v1/port-forwarding-rules/", {
        "name": "UDP", "vip": vip1["uuid"], "protocol": "UDP", "vip_port_start": 20, "vip_port_end": 30},
        format="json"), 201)
    assert (udp["guest_port_start"], udp["guest_port_end"], udp["vm_nic"]) == (20, 30, None)
    # ...ranges of different lengths and ports outside 1-65535 are refused.
    assert error(api.post("/api/v1/port-forwarding-rules/", {
        "name": "LEN", "vip": vip1["uuid"], "protocol": "TCP", "vip_port_start": 100, "vip_port_end": 110,
        "guest_port_start": 100, "guest_port_end": 105}, format="json"), 400) == {
        "code": "invalid", "field": "guest_port_end",
        "message": "The VIP port range 100-110 and the guest port range 100-105 must have the same length."}
    assert error(api.post("/api/v1/port-forwarding-rules/", {
        "name": "BIG", "vip": vip1["uuid"], "protocol": "TCP", "vip_port_start": 65535, "vip_port_end": 65536},
        format="json"), 400) == {"code": "max_value", "field": "vip_port_end",
                                  "message": "Ensure this value is less than or equal to 65535."}

    # Deleting a VIP deletes its rules and returns its address.
    assert api.delete(f"/api/v1/vips/{vip1['uuid']}/").status_code == 204
    assert [r["name"] for r in body(api.get("/api/v1/port-forwarding-rules/"), 200)["results"]] == [
        "PORT-FORWARDING2"]
    used = body(api.get(f"/api/v1/l3-networks/{public['uuid']}/used-ips/"), 200)["results"]
    assert [u["ip"] for u in used] == ["198.51.100.231"]
