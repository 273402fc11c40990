"""The portal's own pages: the New VM form, the VM page's actions and groups, units, read-only pages."""

import pytest

from apps.compute.models import VmInstance
from apps.core.fields import human_size
from apps.core.models import Job
from apps.secgroups.models import SecurityGroup, SecurityGroupRule
from apps.secgroups.services import attach_l3, create_security_group
from tests.support.factories import make_image, make_ip_range, make_l3, make_offering, make_vm

pytestmark = pytest.mark.django_db


@pytest.fixture
def flat_l3():
    l3 = make_l3(services={"DHCP": "VirtualRouter", "SecurityGroup": "SecurityGroup"})
    make_ip_range(l3, cidr="198.51.100.0/24")
    return l3


def test_sizes_read_as_people_write_them():
    assert [human_size(n) for n in (None, 512, 512 * 1024**2, 24684092 * 1024, 264212084 * 1024, 2 * 1024**4)] == [
        "-", "512 B", "512 MiB", "23.5 GiB", "252 GiB", "2 TiB"]


def test_memory_is_a_text_field_that_takes_512M_and_shows_it_back(portal):
    page = portal.get("/compute/instanceoffering/add/").content.decode()
    assert 'type="text" name="memory_size"' in page  # not type=number, where a browser refuses "512M"
    data = {"name": "512M-512HZ", "cpu_num": 1, "cpu_speed": 512, "memory_size": "512M",
            "allocator_strategy": "DefaultHostAllocatorStrategy"}
    assert portal.post("/compute/instanceoffering/add/", data).status_code == 302
    listing = portal.get("/compute/instanceoffering/").content.decode()
    assert "512 MiB" in listing and "1 vCPU" in listing


def test_new_vm_form_records_the_vm_joins_its_group_and_starts_its_boot(portal, flat_l3, rq_queue):
    offering, image = make_offering(), make_image()
    group = create_security_group(name="SECURITY-GROUP-1")
    attach_l3(group, flat_l3)
    form = portal.get("/compute/vminstance/add/").content.decode()
    assert "512M-512HZ (1 vCPU, 512 MiB)" in form and 'name="l3_networks"' in form
    response = portal.post("/compute/vminstance/add/", {
        "name": "INNER-VM", "hostname": "inner", "instance_offering": offering.pk, "image": image.pk,
        "l3_networks": [flat_l3.pk], "security_groups": [group.pk], "guest_kind": "Namespace"})
    vm = VmInstance.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/compute/vminstance/{vm.pk}/change/")
    nic = vm.nics.get()
    assert list(nic.security_groups.all()) == [group]
    assert Job.objects.filter(kind="startVmInstance", target_id=str(vm.pk), state="queued").exists()


def test_new_vm_form_keeps_the_input_and_names_the_field_when_refused(portal, flat_l3):
    other = make_l3(name="OTHER-L3", l2=flat_l3.l2_network, services={"SecurityGroup": "SecurityGroup"})
    group = create_security_group(name="SG")
    attach_l3(group, other)  # not one of the VM's networks
    response = portal.post("/compute/vminstance/add/", {
        "name": "INNER-VM", "hostname": "inner", "instance_offering": make_offering().pk, "image": make_image().pk,
        "l3_networks": [flat_l3.pk], "security_groups": [group.pk], "guest_kind": "Namespace"})
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors == {"security_groups": ["Security group SG is attached to none of the VM's L3 networks."]}
    assert 'value="INNER-VM"' in response.content.decode()
    assert not VmInstance.objects.exists()


def test_vm_page_has_lifecycle_buttons_groups_and_the_failed_jobs_reason(portal, flat_l3, rq_queue):
    group = create_security_group(name="SECURITY-GROUP-1")
    attach_l3(group, flat_l3)
    vm = make_vm("INNER-VM", l3s=[flat_l3], state="Error")
    Job.objects.create(kind="startVmInstance", state="failed", target_id=str(vm.pk), error="No host has 512 MiB free.")
    page = portal.get(f"/compute/vminstance/{vm.pk}/change/").content.decode()
    for label in ("Start", "Stop", "Reboot", "Destroy"):
        assert f">{label}</button>" in page
    assert "startVmInstance failed: No host has 512 MiB free." in page and "open the job" in page
    nic = vm.nics.get()
    response = portal.post(f"/compute/vminstance/{vm.pk}/nics/{nic.pk}/groups/", {"group": group.pk})
    assert response.status_code == 302 and list(nic.security_groups.all()) == [group]
    assert "SECURITY-GROUP-1</a>" in portal.get(f"/compute/vminstance/{vm.pk}/change/").content.decode()
    portal.post(f"/compute/vminstance/{vm.pk}/nics/{nic.pk}/groups/", {"group": group.pk, "leave": "1"})
    assert not nic.security_groups.exists()
    assert portal.post(f"/compute/vminstance/{vm.pk}/do/start/").status_code == 302
    assert Job.objects.filter(kind="startVmInstance", state="queued", target_id=str(vm.pk)).exists()
    assert portal.get(f"/compute/vminstance/{vm.pk}/do/start/").status_code == 405


def test_a_rule_is_added_by_protocol_name_shown_by_name_and_read_only_after(portal):
    group = create_security_group(name="SECURITY-GROUP-1")
    form = portal.get(f"/secgroups/securitygrouprule/add/?security_group={group.pk}").content.decode()
    assert '<option value="tcp">TCP</option>' in form
    response = portal.post("/secgroups/securitygrouprule/add/", {
        "security_group": group.pk, "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
        "port_range_min": "22", "port_range_max": "", "remote_ip_prefix": "", "description": ""})
    assert response.status_code == 302, response.content.decode()[:3000]
    rule = SecurityGroupRule.objects.get(security_group=group, direction="ingress")
    assert (rule.protocol, rule.port_range_min, rule.port_range_max) == (6, 22, 22)
    page = portal.get(f"/secgroups/securitygroup/{group.pk}/change/").content.decode()
    assert ">tcp<" in page and "0.0.0.0/0" in page
    shown = portal.get(f"/secgroups/securitygrouprule/{rule.pk}/change/").content.decode()
    assert 'name="_save"' not in shown and "tcp" in shown
    assert portal.post(f"/secgroups/securitygrouprule/{rule.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not SecurityGroupRule.objects.filter(pk=rule.pk).exists()


def test_group_page_attaches_an_l3_and_adds_nics(portal, flat_l3):
    group = create_security_group(name="SECURITY-GROUP-1")
    vm = make_vm("INNER-VM", l3s=[flat_l3])
    assert portal.post(f"/secgroups/securitygroup/{group.pk}/attach-l3/", {"l3_network": flat_l3.pk}).status_code == 302
    nic = vm.nics.get()
    assert portal.post(f"/secgroups/securitygroup/{group.pk}/add-nics/", {"nics": [nic.pk]}).status_code == 302
    assert list(SecurityGroup.objects.get().nics.all()) == [nic]


def test_host_add_form_keeps_its_input_and_puts_the_error_next_to_the_field(portal):
    from tests.support.factories import make_cluster

    cluster = make_cluster()
    response = portal.post("/infra/host/add/", {"name": "HOST1", "cluster": cluster.pk, "management_ip": "192.0.2.7",
                                                "ssh_port": 22, "username": "root", "password": "",
                                                "state": "Enabled"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"password": ["Enter the SSH password."]}
    assert 'value="192.0.2.7"' in response.content.decode()


def test_port_forwarding_and_eip_add_pages_offer_no_attach_links(portal):
    for url in ("/vrouter/portforwardingrule/add/", "/vrouter/eip/add/"):
        assert "Attach to a VM NIC" not in portal.get(url).content.decode()


def test_job_page_shows_its_steps_as_a_table_not_json(portal):
    job = Job.objects.create(kind="addHost", state="succeeded", steps=[
        {"name": "Connect over SSH", "state": "done", "started": "2026-01-01T10:00:00",
         "finished": "2026-01-01T10:00:01"}])
    page = portal.get(f"/core/job/{job.pk}/change/").content.decode()
    assert "<td>Connect over SSH" in page and '"name":' not in page and 'name="_save"' not in page


def test_swagger_ui_loads_only_from_the_portal_itself(portal):
    import re

    page = portal.get("/api/docs/").content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/") for s in sources), sources
    for src in sources:
        if src.startswith("/static/"):
            assert portal.get(src).status_code == 200, src


def test_sidebar_and_home_follow_the_scenarios_order(portal):
    page = portal.get("/").content.decode()
    order = ["Zones", "Clusters", "Hosts", "Primary storages", "Backup storages", "Images", "L2 networks",
             "L3 networks", "Security groups", "Instance offerings", "VR offerings", "Virtual routers", "Instances",
             "VIPs", "Port forwarding", "EIPs", "Jobs"]
    sidebar = page[page.index('id="nav-sidebar"'):]
    positions = [sidebar.find(f">{name}</a>") for name in order]
    assert -1 not in positions and positions == sorted(positions), dict(zip(order, positions, strict=True))
    assert "Capacity" in page and "Recent failures" in page


def test_read_only_pages_offer_no_save(portal, flat_l3):
    vm = make_vm("INNER-VM", l3s=[flat_l3])
    for url in (f"/compute/vmnic/{vm.nics.get().pk}/change/",):
        page = portal.get(url)
        assert page.status_code == 200 and 'name="_save"' not in page.content.decode(), url


def test_the_interactive_console_opens_only_on_a_running_namespace_guest(flat_l3):
    from apps.compute.console import shell_argv
    from apps.core.exceptions import Conflict

    libvirt = make_vm("LIBVIRT-VM", l3s=[flat_l3], state="Running")
    with pytest.raises(Conflict, match="for namespace guests"):
        shell_argv(libvirt)
    stopped = make_vm("NS-VM", l3s=[flat_l3], state="Stopped", guest_kind="Namespace")
    with pytest.raises(Conflict, match="NS-VM is Stopped; start it to open its console."):
        shell_argv(stopped)


@pytest.mark.django_db(transaction=True)
async def test_the_console_socket_refuses_anonymous_users_and_unknown_vms(user):
    import uuid

    from channels.routing import URLRouter
    from channels.testing import WebsocketCommunicator

    from portal.routing import websocket_urlpatterns

    app = URLRouter(websocket_urlpatterns)
    anonymous = WebsocketCommunicator(app, f"/ws/vms/{uuid.uuid4()}/console/")
    connected, code = await anonymous.connect()
    assert not connected and code == 4401
    missing = WebsocketCommunicator(app, f"/ws/vms/{uuid.uuid4()}/console/")
    missing.scope["user"] = user
    connected, _ = await missing.connect()
    assert connected
    assert "No such VM." in await missing.receive_from()
    assert (await missing.receive_output())["type"] == "websocket.close"


def test_the_live_job_page_has_the_sidebar_and_one_heading(portal):
    job = Job.objects.create(kind="addHost", target_name="HOST1", state="running")
    page = portal.get(f"/portal/jobs/{job.pk}/").content.decode()
    assert page.count("addHost: HOST1</h1>") == 1 and 'id="nav-sidebar"' in page


def test_l3_page_draws_its_topology_router_vips_and_forwarding(portal):
    from apps.vrouter.models import PortForwardingRule, VirtualRouter
    from tests.support.factories import make_l2, make_vip

    public = make_l3(name="PUBLIC-MANAGEMENT-L3", system=True)
    make_ip_range(public, cidr="198.51.100.0/24")
    private = make_l3(l2=make_l2(public.l2_network.zone, name="PRIVATE-L2", vlan=100), name="PRIVATE-L3",
                      services={"DHCP": "VirtualRouter", "PortForwarding": "VirtualRouter"})
    make_ip_range(private, cidr="10.0.0.0/24")
    vm = make_vm("VM1", l3s=[private])
    VirtualRouter.objects.create(name="vr-private", l3_network=private, public_l3=public, state="Running",
                                 address="10.0.0.1", public_address="198.51.100.9")
    vip = make_vip(public, name="VIP-1")
    PortForwardingRule.objects.create(name="PORT-FORWARDING1", vip=vip, protocol="TCP", vip_port_start=22,
                                      vip_port_end=22, guest_port_start=22, guest_port_end=22,
                                      vm_nic=vm.nics.get())
    page = portal.get(f"/networks/l3network/{private.pk}/change/").content.decode()
    start = page.index('<svg class="nimbo-topology"')
    svg = page[start:page.index("</svg>", start) + 6]
    for text in ("Router vr-private", "198.51.100.9", "10.0.0.1", "VIP VIP-1", vip.ip, "VM1", vm.nics.get().ip,
                 "TCP 22→22", "PUBLIC-MANAGEMENT-L3 (public)"):
        assert text in svg, text


def test_nic_firewall_page_lists_groups_and_rules_by_name(portal, flat_l3):
    from apps.secgroups.services import add_nics, add_rule

    group = create_security_group(name="SECURITY-GROUP-1")
    attach_l3(group, flat_l3)
    add_rule(group, direction="ingress", protocol=6, port_range_min=22, port_range_max=22)
    vm = make_vm("INNER-VM", l3s=[flat_l3])
    nic = vm.nics.get()
    add_nics(group, [nic])
    assert "firewall on the host" in portal.get(f"/compute/vminstance/{vm.pk}/change/").content.decode()
    page = portal.get(f"/compute/vminstance/{vm.pk}/nics/{nic.pk}/firewall/").content.decode()
    assert "<td>ingress</td><td>IPv4</td><td>tcp</td><td>22</td><td>0.0.0.0/0</td>" in page
    assert "Nothing realised" in page


def test_a_new_group_opens_on_its_own_page(portal):
    response = portal.post("/secgroups/securitygroup/add/", {
        "name": "SG", "description": "", **{f"{p}-{k}": 0 for p in ("rules", "l3_refs", "nic_refs")
                                           for k in ("TOTAL_FORMS", "INITIAL_FORMS")}})
    group = SecurityGroup.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/secgroups/securitygroup/{group.pk}/change/"
