"""Scenario 01's network steps through the REST API (shared/scenarios/01-security-group-flat.md):
FLAT-L2 on eth0 attached to CLUSTER1, FLAT-L3 with its range, DNS and services as the wizard does
them, the default VR-OFFERING, and the two VMs' NICs on FLAT-L3. Every reply is asserted whole."""

import pytest

from apps.core.models import Job
from apps.vrouter.models import VirtualRouter
from tests.support.api import body
from tests.support.factories import make_image

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(api):
    """Steps 2, 3, 7 and 8: zone, cluster, the two images, the instance offering."""
    zone = api.post("/api/v1/zones/", {"name": "ZONE1"}, format="json").json()
    cluster = api.post("/api/v1/clusters/", {"name": "CLUSTER1", "zone": zone["uuid"], "hypervisor_type": "KVM"},
                       format="json").json()
    offering = api.post("/api/v1/instance-offerings/", {"name": "512M-512HZ", "cpu_num": 1, "cpu_speed": 512,
                                                        "memory_size": "512M"}, format="json").json()
    return {"zone": zone["uuid"], "cluster": cluster["uuid"], "offering": offering["uuid"],
            "image": str(make_image("zs-sample-image").uuid),
            "vr_image": str(make_image("VIRTUAL-ROUTER", system=True).uuid)}


def test_scenario_01_network(api, setup):
    zone, cluster = setup["zone"], setup["cluster"]

    # 9. FLAT-L2, L2NoVlanNetwork on eth0, attached to CLUSTER1.
    l2 = body(api.post("/api/v1/l2-networks/", {"name": "FLAT-L2", "zone": zone, "type": "L2NoVlanNetwork",
                                                "physical_interface": "eth0"}, format="json"), 201)
    assert l2 == {"uuid": l2["uuid"], "name": "FLAT-L2", "description": "", "zone": zone, "zone_name": "ZONE1",
                  "type": "L2NoVlanNetwork", "physical_interface": "eth0", "vlan": None, "bridge_name": "br_eth0",
                  "vlan_interface": None, "attached_clusters": []}
    attached = body(api.post(f"/api/v1/l2-networks/{l2['uuid']}/attach/", {"cluster": cluster}, format="json"), 200)
    assert attached == {**l2, "attached_clusters": [cluster]}

    # 10. FLAT-L3 with range, DNS and services: the wizard's four calls.
    l3 = body(api.post("/api/v1/l3-networks/", {"name": "FLAT-L3", "l2_network": l2["uuid"],
                                                "type": "L3BasicNetwork", "dns_domain": "tutorials.zstack.org"},
                       format="json"), 201)
    assert l3 == {"uuid": l3["uuid"], "name": "FLAT-L3", "description": "", "l2_network": l2["uuid"],
                  "l2_network_name": "FLAT-L2", "zone": zone, "type": "L3BasicNetwork", "system": False,
                  "dns_domain": "tutorials.zstack.org", "dns": [], "network_services": [], "ip_ranges": [],
                  "project": None, "shared": False}
    url = f"/api/v1/l3-networks/{l3['uuid']}"
    ip_range = body(api.post(f"{url}/ip-ranges/", {"name": "FLAT-IP-RANGE", "start_ip": "198.51.100.230",
                                                   "end_ip": "198.51.100.240", "netmask": "255.255.255.0",
                                                   "gateway": "198.51.100.1"}, format="json"), 201)
    assert ip_range == {"uuid": ip_range["uuid"], "name": "FLAT-IP-RANGE", "description": "",
                        "l3_network": l3["uuid"], "start_ip": "198.51.100.230", "end_ip": "198.51.100.240",
                        "netmask": "255.255.255.0", "gateway": "198.51.100.1", "network_cidr": "198.51.100.0/24"}
    with_dns = body(api.post(f"{url}/dns/", {"dns": "8.8.8.8"}, format="json"), 200)
    assert with_dns == {**l3, "dns": ["8.8.8.8"], "ip_ranges": [ip_range]}
    services = {"VirtualRouter": ["DHCP", "DNS"], "SecurityGroup": ["SecurityGroup"]}
    final = body(api.post(f"{url}/network-services/", {"services": services}, format="json"), 200)
    assert final == {**with_dns, "network_services": [
        {"provider": "SecurityGroup", "service_type": "SecurityGroup"},
        {"provider": "VirtualRouter", "service_type": "DHCP"},
        {"provider": "VirtualRouter", "service_type": "DNS"}]}
    assert body(api.get(f"{url}/"), 200) == final

    # 11. VR-OFFERING: management and public L3 = FLAT-L3, the zone's default.
    vr = body(api.post("/api/v1/virtual-router-offerings/", {
        "name": "VR-OFFERING", "zone": zone, "cpu_num": 1, "cpu_speed": 512, "memory_size": "512M",
        "image": setup["vr_image"], "management_l3": l3["uuid"], "is_default": True}, format="json"), 201)
    assert vr == {"uuid": vr["uuid"], "name": "VR-OFFERING", "description": "", "zone": zone, "cpu_num": 1,
                  "cpu_speed": 512, "memory_size": 512 * 1024**2, "image": setup["vr_image"],
                  "management_l3": l3["uuid"], "public_l3": l3["uuid"], "is_default": True}

    # 13 and 15. INNER-VM and OUTER-VM on FLAT-L3: addresses from the range, MACs generated.
    vms = {}
    for name, hostname in (("INNER-VM", "inner"), ("OUTER-VM", "outer")):
        vm = body(api.post("/api/v1/vms/", {"name": name, "hostname": hostname, "instance_offering": setup["offering"],
                                            "image": setup["image"], "l3_networks": [l3["uuid"]], "start": False},
                                  format="json"), 201)
        nic = vm["nics"][0]
        assert vm == {"uuid": vm["uuid"], "name": name, "description": "", "hostname": hostname, "type": "UserVm",
                      "guest_kind": "Libvirt", "state": "Created", "instance_offering": setup["offering"],
                      "image": setup["image"],
                      "zone": zone, "cluster": None, "host": None, "nics": [{
                          "uuid": nic["uuid"], "vm_instance": vm["uuid"], "l3_network": l3["uuid"],
                          "l3_network_name": "FLAT-L3", "ip": nic["ip"], "netmask": "255.255.255.0",
                          "gateway": "198.51.100.1", "mac": nic["mac"], "device_index": 0,
                          "internal_name": "vnic" + nic["uuid"].replace("-", "")[:10]}]}
        vms[name] = nic
    # The router's address is taken with the first VM's (.231), before any other VM can take it.
    assert [vms["INNER-VM"]["ip"], vms["OUTER-VM"]["ip"]] == ["198.51.100.230", "198.51.100.232"]
    assert vms["INNER-VM"]["mac"] != vms["OUTER-VM"]["mac"]
    used = body(api.get(f"{url}/used-ips/"), 200)
    router = VirtualRouter.objects.get()
    assert [(u["ip"], u["owner_type"], u["owner_uuid"]) for u in used["results"]] == [
        ("198.51.100.230", "VmNic", vms["INNER-VM"]["uuid"]), ("198.51.100.231", "VirtualRouter", str(router.pk)),
        ("198.51.100.232", "VmNic", vms["OUTER-VM"]["uuid"])]

    kinds = list(Job.objects.order_by("created").values_list("kind", flat=True))
    assert kinds[-9:] == ["createL2Network", "attachL2NetworkToCluster", "createL3Network", "addIpRange",
                          "addDnsToL3Network", "attachNetworkServiceToL3Network", "createVirtualRouterOffering",
                          "createVmInstance", "createVmInstance"]
