"""Router offerings, VIPs, port forwarding rules and EIPs through the API: one test per rule, with
the exact error body, the documented cascades, and a constant number of queries per list."""

import pytest

from apps.vrouter.models import Eip, PortForwardingRule, VirtualRouterOffering
from tests.support.api import body, error
from tests.support.factories import make_image, make_l2, make_l3, make_vip, make_vm, make_vr_offering, make_zone

pytestmark = pytest.mark.django_db


def post(api, url, data=None):
    return api.post(url, data or {}, format="json")


@pytest.fixture
def net():
    """PUBLIC (System, 198.51.100.0/24) and PRIVATE (10.0.0.0/24 with PF and EIP) in ZONE1; VM1 on PRIVATE."""
    public = make_l3(name="PUBLIC", system=True, cidr="198.51.100.0/24")
    private_l2 = make_l2(public.l2_network.zone, name="PRIVATE-L2", vlan=100)
    private = make_l3(private_l2, name="PRIVATE", cidr="10.0.0.0/24",
                      services=["DHCP", "DNS", "SNAT", "PortForwarding", "Eip"])
    vm = make_vm(l3s=[private])
    return {"public": public, "private": private, "vm": vm, "nic": vm.nics.get(), "zone": public.l2_network.zone}


# --- Virtual router offerings ----------------------------------------------------------------------


def offering_data(net, **extra):
    return {"name": "VR-OFFERING", "zone": str(net["zone"].uuid), "cpu_num": 1, "cpu_speed": 512,
            "memory_size": "512M", "management_l3": str(net["public"].uuid), **extra}


def test_offering_rules(api, net):
    user_image = make_image("zs-sample-image")
    assert error(post(api, "/api/v1/virtual-router-offerings/", offering_data(net, image=str(user_image.uuid))),
                 400) == {"code": "invalid", "field": "image",
                          "message": "Image zs-sample-image is not a System image."}
    far = make_l3(make_l2(make_zone(name="ZONE2"), name="FAR-L2"), name="FAR")
    assert error(post(api, "/api/v1/virtual-router-offerings/", offering_data(net, public_l3=str(far.uuid))),
                 400) == {"code": "invalid", "field": "public_l3", "message": "L3 network FAR is not in zone ZONE1."}
    assert error(post(api, "/api/v1/virtual-router-offerings/", offering_data(net, memory_size="1M")), 400) == {
        "code": "invalid", "field": "memory_size", "message": "Memory must be at least 16M."}
    assert error(post(api, "/api/v1/virtual-router-offerings/", offering_data(net, management_l3=None)), 400)[
        "field"] == "management_l3"


def test_one_default_offering_per_zone(api, net):
    first = body(post(api, "/api/v1/virtual-router-offerings/", offering_data(net, is_default=True)), 201)
    assert first["public_l3"] == str(net["public"].uuid)  # defaults to the management L3
    second = body(post(api, "/api/v1/virtual-router-offerings/", offering_data(net, name="VR2", is_default=True)),
                  201)
    assert second["is_default"] and not body(api.get(f"/api/v1/virtual-router-offerings/{first['uuid']}/"),
                                             200)["is_default"]
    assert list(VirtualRouterOffering.objects.filter(is_default=True).values_list("name", flat=True)) == ["VR2"]
    assert error(post(api, "/api/v1/virtual-router-offerings/", offering_data(net)), 409)["message"] == \
        "Virtual router offering with this Zone and Name already exists."


def test_deleting_an_l3_used_by_an_offering_is_refused(api, net):
    make_vr_offering(net["public"])
    net["public"].ip_ranges.all().delete()
    assert error(api.delete(f"/api/v1/l3-networks/{net['public'].uuid}/"), 409) == {
        "code": "in_use", "field": None,
        "message": "Still used by virtual router offering VR-OFFERING"}


# --- VIPs ------------------------------------------------------------------------------------------


def test_vip_addresses(api, net):
    url = "/api/v1/vips/"
    public = str(net["public"].uuid)
    specific = body(post(api, url, {"name": "V1", "l3_network": public, "ip": "198.51.100.99"}), 201)
    assert specific["ip"] == "198.51.100.99"
    assert error(post(api, url, {"name": "V2", "l3_network": public, "ip": "198.51.100.99"}), 409) == {
        "code": "ip_in_use", "field": "ip",
        "message": "IP address 198.51.100.99 is already in use on L3 network PUBLIC."}
    assert error(post(api, url, {"name": "V2", "l3_network": public, "ip": "192.0.2.1"}), 400) == {
        "code": "invalid", "field": "ip", "message": "192.0.2.1 is not in any IP range of L3 network PUBLIC."}
    assert body(post(api, url, {"name": "V2", "l3_network": public}), 201)["ip"] == "198.51.100.2"
    assert error(api.patch(f"{url}{specific['uuid']}/", {"ip": "198.51.100.98"}, format="json"), 400) == {
        "code": "invalid", "field": "ip", "message": "The IP address of a VIP cannot be changed."}


def test_deleting_a_vip_deletes_its_rules_and_eip_and_returns_its_address(api, net):
    vip = make_vip(net["public"])
    PortForwardingRule.objects.create(name="PF", vip=vip, protocol="TCP", vip_port_start=22, vip_port_end=22,
                                      guest_port_start=22, guest_port_end=22)
    other = make_vip(net["public"], name="VIP2")
    Eip.objects.create(name="EIP", vip=other)
    for v in (vip, other):
        assert api.delete(f"/api/v1/vips/{v.uuid}/").status_code == 204
    assert not PortForwardingRule.objects.exists() and not Eip.objects.exists()
    assert body(api.get(f"/api/v1/l3-networks/{net['public'].uuid}/used-ips/"), 200)["count"] == 0


# --- Port forwarding -------------------------------------------------------------------------------


def rule_data(vip, **extra):
    return {"name": "PF", "vip": str(vip.uuid), "protocol": "TCP", "vip_port_start": 22, "vip_port_end": 22, **extra}


@pytest.mark.parametrize("extra, status, expected", [
    ({"vip_port_start": 0}, 400, {"code": "min_value", "field": "vip_port_start",
                                  "message": "Ensure this value is greater than or equal to 1."}),
    ({"guest_port_end": 70000, "guest_port_start": 22}, 400, {
        "code": "max_value", "field": "guest_port_end",
        "message": "Ensure this value is less than or equal to 65535."}),
    ({"vip_port_start": 30, "vip_port_end": 20}, 400, {"code": "invalid", "field": "vip_port_end",
                                                      "message": "The VIP end port is lower than the VIP start port."}),
    ({"guest_port_start": 30, "guest_port_end": 29}, 400, {
        "code": "invalid", "field": "guest_port_end",
        "message": "The guest end port is lower than the guest start port."}),
    ({"vip_port_end": 23, "guest_port_start": 22, "guest_port_end": 22}, 400, {
        "code": "invalid", "field": "guest_port_end",
        "message": "The VIP port range 22-23 and the guest port range 22-22 must have the same length."}),
    ({"protocol": "ICMP"}, 400, {"code": "invalid_choice", "field": "protocol",
                                 "message": '"ICMP" is not a valid choice.'}),
    ({"allowed_cidr": "10.0.0.0/33"}, 400, {
        "code": "invalid", "field": "allowed_cidr",
        "message": "Enter an IPv4 network in CIDR notation, such as 198.51.100.0/24."}),
    ({"allowed_cidr": "10.0.0.1/8"}, 400, {"code": "invalid", "field": "allowed_cidr",
                                          "message": "10.0.0.1/8 is not a network address; did you mean 10.0.0.0/8?"}),
])
def test_port_forwarding_rule_validation(api, net, extra, status, expected):
    vip = make_vip(net["public"])
    assert error(post(api, "/api/v1/port-forwarding-rules/", rule_data(vip, **extra)), status) == expected
    assert not PortForwardingRule.objects.exists()


def test_guest_ports_default_to_the_vip_ports_and_a_given_start_keeps_the_length(api, net):
    vip = make_vip(net["public"])
    rule = body(post(api, "/api/v1/port-forwarding-rules/", rule_data(vip, vip_port_start=8000, vip_port_end=8010,
                                                                      allowed_cidr="203.0.113.0/24")), 201)
    assert (rule["guest_port_start"], rule["guest_port_end"], rule["allowed_cidr"]) == (8000, 8010, "203.0.113.0/24")
    shifted = body(post(api, "/api/v1/port-forwarding-rules/", rule_data(vip, name="PF2", vip_port_start=9000,
                                                                         vip_port_end=9002, guest_port_start=80)), 201)
    assert (shifted["guest_port_start"], shifted["guest_port_end"]) == (80, 82)


def test_attach_rules_for_port_forwarding(api, net):
    vip = make_vip(net["public"])
    rule = PortForwardingRule.objects.create(name="PF", vip=vip, protocol="TCP", vip_port_start=22, vip_port_end=22,
                                             guest_port_start=22, guest_port_end=22)
    url = f"/api/v1/port-forwarding-rules/{rule.uuid}"

    def refused(nic):
        return error(post(api, f"{url}/attach/", {"vm_nic": str(nic.uuid)}), 400)["message"]

    stopped = make_vm(name="STOPPED", l3s=[net["private"]], state="Stopped")
    created = make_vm(name="NEW", l3s=[net["private"]], state="Created")
    assert refused(created.nics.get()) == "VM NEW is Created; it must be Running or Stopped."
    on_vip_l3 = make_vm(name="ONPUBLIC", l3s=[net["public"]])
    assert refused(on_vip_l3.nics.get()) == "The NIC is on L3 network PUBLIC, the VIP's own network."
    plain = make_l3(net["private"].l2_network, name="PLAIN", cidr="10.7.0.0/24")
    assert refused(make_vm(name="PLAIN", l3s=[plain]).nics.get()) == \
        "L3 network PLAIN does not offer the PortForwarding service."
    far = make_l3(make_l2(make_zone(name="ZONE2"), name="FAR-L2"), name="FAR", cidr="10.8.0.0/24",
                  services=["PortForwarding"])
    assert refused(make_vm(name="FAR", l3s=[far]).nics.get()) == "VM FAR is not in the zone of VIP VIP1."
    router = make_vm(name="ROUTER", l3s=[net["private"]], type="ApplianceVm", image=None)
    assert refused(router.nics.get()) == "VM ROUTER is not a user VM."

    candidates = body(api.get(f"{url}/attachable-nics/"), 200)
    assert [c["vm_instance_name"] for c in candidates["results"]] == ["STOPPED", "VM1"]
    body(post(api, f"{url}/attach/", {"vm_nic": str(stopped.nics.get().uuid)}), 200)
    assert error(post(api, f"{url}/attach/", {"vm_nic": str(net["nic"].uuid)}), 409) == {
        "code": "conflict", "field": "vm_nic", "message": "Rule PF is already attached to VM STOPPED; detach it first."}
    body(post(api, f"{url}/detach/"), 200)
    assert error(post(api, f"{url}/detach/"), 409)["message"] == "Rule PF is not attached to a VM NIC."


def test_port_conflicts_on_the_nic_and_one_vip_per_vm(api, net):
    nic = net["nic"]
    vip1, vip2 = make_vip(net["public"]), make_vip(net["public"], name="VIP2")
    body(post(api, "/api/v1/port-forwarding-rules/", rule_data(vip1, vm_nic=str(nic.uuid))), 201)
    # Another VIP port to the same guest port of the same NIC and protocol: refused.
    assert error(post(api, "/api/v1/port-forwarding-rules/", rule_data(
        vip1, name="PF2", vip_port_start=2222, vip_port_end=2222, guest_port_start=22, vm_nic=str(nic.uuid))),
        409) == {"code": "port_conflict", "field": "vm_nic",
                 "message": "Guest ports 22-22/TCP overlap rule PF (22-22) on the same NIC."}
    # A rule of another VIP on the same VM: refused.
    assert error(post(api, "/api/v1/port-forwarding-rules/", rule_data(
        vip2, name="PF3", vip_port_start=80, vip_port_end=80, vm_nic=str(nic.uuid))), 409) == {
        "code": "vip_in_use", "field": "vm_nic",
        "message": "VM VM1 already holds rule PF of VIP VIP1; a VM takes port forwarding rules from one VIP only."}
    # The candidates of a rule of VIP2 leave VM1 out for the same reason.
    rule3 = PortForwardingRule.objects.create(name="PF3", vip=vip2, protocol="TCP", vip_port_start=80,
                                              vip_port_end=80, guest_port_start=80, guest_port_end=80)
    vm2 = make_vm(name="VM2", l3s=[net["private"]])
    assert [c["vm_instance_name"] for c in body(api.get(
        f"/api/v1/port-forwarding-rules/{rule3.uuid}/attachable-nics/"), 200)["results"]] == ["VM2"]
    body(post(api, f"/api/v1/port-forwarding-rules/{rule3.uuid}/attach/", {"vm_nic": str(vm2.nics.get().uuid)}), 200)


def test_a_vip_serves_one_guest_network(api, net):
    vip = make_vip(net["public"])
    body(post(api, "/api/v1/port-forwarding-rules/", rule_data(vip, vm_nic=str(net["nic"].uuid))), 201)
    other = make_l3(net["private"].l2_network, name="OTHER", cidr="10.6.0.0/24", services=["PortForwarding"])
    vm = make_vm(name="OTHER-VM", l3s=[other])
    assert error(post(api, "/api/v1/port-forwarding-rules/", rule_data(
        vip, name="PF2", vip_port_start=80, vip_port_end=80, vm_nic=str(vm.nics.get().uuid))), 409) == {
        "code": "vip_in_use", "field": "vm_nic",
        "message": "VIP VIP1 already forwards to L3 network PRIVATE (rule PF); its rules serve one guest network."}


def test_port_forwarding_on_a_vip_held_by_an_eip_is_refused(api, net):
    vip = make_vip(net["public"])
    Eip.objects.create(name="EIP", vip=vip)
    assert error(post(api, "/api/v1/port-forwarding-rules/", rule_data(vip)), 409) == {
        "code": "vip_in_use", "field": "vip", "message": "VIP VIP1 is used by EIP EIP; an EIP needs a VIP of its own."}


# --- EIPs ------------------------------------------------------------------------------------------


def test_eip_rules(api, net):
    nic = net["nic"]
    vip = make_vip(net["public"])
    eip = body(post(api, "/api/v1/eips/", {"name": "EIP", "vip": str(vip.uuid), "vm_nic": str(nic.uuid)}), 201)
    assert (eip["vip_ip"], eip["guest_ip"], eip["vm_instance"]) == ("198.51.100.2", "10.0.0.2", str(net["vm"].uuid))
    assert body(api.get(f"/api/v1/vips/{vip.uuid}/"), 200)["use_for"] == ["Eip"]
    assert error(post(api, "/api/v1/eips/", {"name": "EIP2", "vip": str(vip.uuid)}), 409) == {
        "code": "vip_in_use", "field": "vip", "message": "VIP VIP1 is already used by EIP EIP."}
    vip2 = make_vip(net["public"], name="VIP2")
    assert error(post(api, "/api/v1/eips/", {"name": "EIP2", "vip": str(vip2.uuid), "vm_nic": str(nic.uuid)}),
                 409) == {"code": "vip_in_use", "field": "vm_nic",
                          "message": "The NIC already has EIP EIP; a NIC takes one EIP."}
    PortForwardingRule.objects.create(name="PF", vip=vip2, protocol="TCP", vip_port_start=22, vip_port_end=22,
                                      guest_port_start=22, guest_port_end=22)
    assert error(post(api, "/api/v1/eips/", {"name": "EIP3", "vip": str(vip2.uuid)}), 409) == {
        "code": "vip_in_use", "field": "vip",
        "message": "VIP VIP2 is used for PortForwarding; an EIP needs a VIP of its own."}
    # A VIP on the guest network itself, inside its range: not an EIP.
    guest_vip = make_vip(net["private"], name="GUEST-VIP")
    vm2 = make_vm(name="VM2", l3s=[net["private"]])
    assert error(post(api, "/api/v1/eips/", {"name": "E", "vip": str(guest_vip.uuid),
                                             "vm_nic": str(vm2.nics.get().uuid)}), 400) == {
        "code": "invalid", "field": "vm_nic", "message": "The NIC is on L3 network PRIVATE, the VIP's own network."}
    # Detach, re-attach.
    url = f"/api/v1/eips/{eip['uuid']}"
    assert body(post(api, f"{url}/detach/"), 200)["vm_nic"] is None
    assert body(post(api, f"{url}/attach/", {"vm_nic": str(vm2.nics.get().uuid)}), 200)["guest_ip"] == "10.0.0.4"
    # Deleting the EIP keeps its VIP.
    assert api.delete(f"{url}/").status_code == 204
    assert body(api.get(f"/api/v1/vips/{vip.uuid}/"), 200)["use_for"] == []


def test_eip_vip_inside_the_guest_range_is_refused(api, net):
    # A second L3 whose VIP lies in PRIVATE's range (10.0.0.0/24): the NAT could not tell them apart.
    overlay = make_l3(net["private"].l2_network, name="OVERLAY", system=True)
    from tests.support.factories import make_ip_range

    make_ip_range(overlay, start_ip="10.0.0.200", end_ip="10.0.0.210", netmask="255.255.255.0", gateway="10.0.0.1")
    vip = make_vip(overlay, name="INSIDE")
    assert error(post(api, "/api/v1/eips/", {"name": "E", "vip": str(vip.uuid), "vm_nic": str(net["nic"].uuid)}),
                 400) == {"code": "invalid", "field": "vm_nic",
                          "message": "VIP INSIDE lies in the guest range of L3 network PRIVATE."}


# --- NAT rules of the anchors, and a router that cannot apply --------------------------------------------


def test_a_guest_range_given_by_its_end_alone_is_completed_before_any_check(api, net):
    vip = make_vip(net["public"])
    body(post(api, "/api/v1/port-forwarding-rules/", rule_data(vip, vip_port_start=80, vip_port_end=80)), 201)
    # Only the guest end: the range ends there with the VIP range's length, and the VIP port still clashes.
    assert error(post(api, "/api/v1/port-forwarding-rules/", rule_data(vip, name="PF2", vip_port_start=80,
                                                                       vip_port_end=80, guest_port_end=8080)), 409)[
        "field"] == "vip_port_start"
    rule = body(post(api, "/api/v1/port-forwarding-rules/", rule_data(vip, name="PF3", vip_port_start=90,
                                                                      vip_port_end=99, guest_port_end=8089)), 201)
    assert (rule["guest_port_start"], rule["guest_port_end"]) == (8080, 8089)
    assert PortForwardingRule.objects.filter(guest_port_start__isnull=True).count() == 0


def test_an_allowed_cidr_and_an_eip_refuse_each_other_on_one_nic(api, net):
    make_vr_offering(net["public"])
    nic = str(net["nic"].uuid)
    eip_vip, pf_vip = make_vip(net["public"], name="EIP-VIP"), make_vip(net["public"], name="PF-VIP")
    body(post(api, "/api/v1/eips/", {"name": "EIP", "vip": str(eip_vip.uuid), "vm_nic": nic}), 201)
    assert error(post(api, "/api/v1/port-forwarding-rules/", rule_data(pf_vip, allowed_cidr="203.0.113.0/24",
                                                                       vm_nic=nic)), 400) == {
        "code": "invalid", "field": "allowed_cidr",
        "message": ("VM VM1's NIC has an EIP: a rule with an allowed CIDR cannot forward to it "
                    "(the EIP lets everyone in).")}
    Eip.objects.all().delete()
    body(post(api, "/api/v1/port-forwarding-rules/", rule_data(pf_vip, allowed_cidr="203.0.113.0/24", vm_nic=nic)),
         201)
    assert error(post(api, "/api/v1/eips/", {"name": "EIP", "vip": str(eip_vip.uuid), "vm_nic": nic}), 400) == {
        "code": "invalid", "field": "vm_nic",
        "message": "Port forwarding rule PF limits the NIC to 203.0.113.0/24: an EIP would let everyone in; detach "
                   "the rule first."}


def test_a_vip_must_be_on_the_public_network_of_the_nics_router(api, net):
    make_vr_offering(net["public"])
    other = make_l3(make_l2(net["zone"], name="OTHER-L2", vlan=200), name="OTHER", system=True,
                    cidr="203.0.113.0/24")
    vip = make_vip(other)
    assert error(post(api, "/api/v1/port-forwarding-rules/", rule_data(vip, vm_nic=str(net["nic"].uuid))), 400) == {
        "code": "invalid", "field": "vm_nic",
        "message": ("The router of L3 network PRIVATE has its public leg on L3 network PUBLIC, "
                    "but VIP VIP1 is on OTHER.")}


def test_a_rule_the_router_cannot_apply_fails_with_the_routers_error_and_writes_nothing(api, net):
    """The router runs on a host whose agent does not answer: the change fails, its job says why, and no rule
    is left behind."""
    from apps.core.models import Job
    from apps.vrouter.models import VirtualRouter
    from apps.vrouter.routers import reserve_router
    from tests.support.factories import make_cluster, make_host

    make_vr_offering(net["public"])
    reserve_router(net["private"])
    host = make_host(make_cluster(net["zone"], hypervisor_type="Sandbox"))
    VirtualRouter.objects.update(host=host, namespace="nimbo-vr-test", public_address="198.51.100.200",
                                 public_l3=net["public"], public_netmask="255.255.255.0", public_leg="vptest")
    vip = make_vip(net["public"])
    refused = error(post(api, "/api/v1/port-forwarding-rules/", rule_data(vip, vm_nic=str(net["nic"].uuid))), 400)
    assert refused["code"] == "host_unreachable" and refused["message"].startswith(
        "Host HOST1 stopped answering while it ran router.ensure_router"), refused
    assert not PortForwardingRule.objects.exists()
    job = Job.objects.get(kind="createPortForwardingRule")
    assert job.state == "failed" and [(s["name"], s["state"]) for s in job.steps] == [
        ("Update the virtual router vr-PRIVATE on HOST1", "failed")]
