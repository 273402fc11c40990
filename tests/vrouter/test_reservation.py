"""The router's address is taken with the first VM's, in the same transaction: a burst of VM creates on a
nearly full range can never leave the router without one."""

import pytest

from apps.vrouter.models import VirtualRouter
from tests.support.api import body, error
from tests.support.factories import make_cluster, make_image, make_offering

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_router_address_is_reserved_with_the_first_vm_and_a_full_range_refuses_cleanly(api, jobs_inline):
    cluster = make_cluster()
    zone = str(cluster.zone.uuid)
    l2 = body(api.post("/api/v1/l2-networks/", {"name": "L2", "zone": zone, "type": "L2NoVlanNetwork",
                                                "physical_interface": "eth0"}, format="json"), 201)["uuid"]
    l3 = body(api.post("/api/v1/l3-networks/", {"name": "SMALL-L3", "l2_network": l2}, format="json"), 201)["uuid"]
    body(api.post(f"/api/v1/l3-networks/{l3}/ip-ranges/",
                  {"name": "R", "start_ip": "192.0.2.10", "end_ip": "192.0.2.12", "netmask": "255.255.255.0",
                   "gateway": "192.0.2.1"}, format="json"), 201)
    body(api.post(f"/api/v1/l3-networks/{l3}/network-services/", {"services": {"VirtualRouter": ["DHCP", "DNS"]}},
                  format="json"), 200)
    offering, image = str(make_offering().uuid), str(make_image("img").uuid)

    def create(name):
        return api.post("/api/v1/vms/", {"name": name, "instance_offering": offering, "image": image,
                                         "l3_networks": [l3], "start": False}, format="json")

    body(create("A"), 201)
    vr = VirtualRouter.objects.get()
    assert (vr.address, vr.host, vr.state) == ("192.0.2.11", None, "Stopped")  # reserved, not booted yet
    body(create("B"), 201)
    refused = error(create("C"), 409)
    assert refused == {"code": "ip_range_exhausted", "field": "l3_network",
                       "message": "No free IP address is left in the IP ranges of L3 network SMALL-L3."}
    used = body(api.get(f"/api/v1/l3-networks/{l3}/used-ips/"), 200)["results"]
    assert sorted(u["ip"] for u in used) == ["192.0.2.10", "192.0.2.11", "192.0.2.12"]
    assert [vm["name"] for vm in body(api.get("/api/v1/vms/"), 200)["results"]] == ["A", "B"]
    # Deleting the L3's VMs and then the L3 releases the reserved router too.
    for vm in body(api.get("/api/v1/vms/"), 200)["results"]:
        body(api.post(f"/api/v1/vms/{vm['uuid']}/destroy/", {}, format="json"), 202)
    reply = api.delete(f"/api/v1/l3-networks/{l3}/")
    assert reply.status_code == 204, reply.content
    assert not VirtualRouter.objects.exists()


def test_a_vm_whose_first_start_fails_after_placement_releases_its_address(api, jobs_inline):
    """The router of a NAT network needs the zone's default router offering for its public leg: without one
    the first VM's start fails after its host was chosen, and the VM keeps no address."""
    from apps.core.models import Job
    from tests.support.factories import make_host

    cluster = make_cluster(hypervisor_type="Sandbox")
    zone = str(cluster.zone.uuid)
    l2 = body(api.post("/api/v1/l2-networks/", {"name": "L2", "zone": zone, "type": "L2NoVlanNetwork",
                                                "physical_interface": "eth0"}, format="json"), 201)["uuid"]
    body(api.post(f"/api/v1/l2-networks/{l2}/attach/", {"cluster": str(cluster.pk)}, format="json"), 200)
    make_host(cluster)  # after the attach: a host row with no agent to build bridges on
    l3 = body(api.post("/api/v1/l3-networks/", {"name": "NAT-L3", "l2_network": l2}, format="json"), 201)["uuid"]
    body(api.post(f"/api/v1/l3-networks/{l3}/ip-ranges/", {"name": "R", "network_cidr": "10.40.0.0/24"},
                  format="json"), 201)
    body(api.post(f"/api/v1/l3-networks/{l3}/network-services/", {"services": {"VirtualRouter": ["DHCP", "SNAT"]}},
                  format="json"), 200)
    vm = body(api.post("/api/v1/vms/", {"name": "A", "instance_offering": str(make_offering().uuid),
                                        "image": str(make_image("img").uuid), "l3_networks": [l3],
                                        "guest_kind": "Namespace"}, format="json"), 201)
    job = Job.objects.get(kind="startVmInstance")
    assert job.state == "failed" and job.error == (
        "Zone ZONE1 has no default virtual router offering: the router of NAT-L3 has no public network for SNAT, "
        "port forwarding and EIPs."), job.error
    shown = body(api.get(f"/api/v1/vms/{vm['uuid']}/"), 200)
    assert (shown["state"], shown["nics"]) == ("Error", [])
    # Only the router's gateway address (not from the range) is held: the range is whole again.
    assert body(api.get(f"/api/v1/l3-networks/{l3}/used-ips/"), 200)["results"] == []


def test_the_admin_deletes_an_unused_router_and_says_why_it_keeps_a_used_one(client, user, api):
    from django.urls import reverse

    from apps.compute.models import VmInstance

    zone = str(make_cluster().zone.uuid)
    l2 = body(api.post("/api/v1/l2-networks/", {"name": "L2", "zone": zone, "type": "L2NoVlanNetwork",
                                                "physical_interface": "eth0"}, format="json"), 201)["uuid"]
    l3 = body(api.post("/api/v1/l3-networks/", {"name": "NET", "l2_network": l2}, format="json"), 201)["uuid"]
    body(api.post(f"/api/v1/l3-networks/{l3}/ip-ranges/", {"name": "R", "network_cidr": "10.60.0.0/24"},
                  format="json"), 201)
    body(api.post(f"/api/v1/l3-networks/{l3}/network-services/", {"services": {"VirtualRouter": ["DHCP"]}},
                  format="json"), 200)
    vm = body(api.post("/api/v1/vms/", {"name": "A", "instance_offering": str(make_offering().uuid),
                                        "image": str(make_image("img").uuid), "l3_networks": [l3], "start": False},
                       format="json"), 201)
    vr = VirtualRouter.objects.get()
    client.force_login(user)
    url = reverse("admin:vrouter_virtualrouter_changelist")

    def remove():
        page = client.post(url, {"action": "remove", "_selected_action": [str(vr.pk)]}, follow=True)
        return [str(m) for m in page.context["messages"]]

    assert remove() == ["vr-NET: Virtual router vr-NET still serves 1 VM NIC on L3 network NET; rebuild or "
                        "migrate it instead."]
    VmInstance.objects.get(pk=vm["uuid"]).nics.all().delete()
    assert remove() == ["vr-NET: deleted."]
    assert not VirtualRouter.objects.exists()
