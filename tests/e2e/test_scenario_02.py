"""Scenario 02 by clicking in the portal: a private VLAN network behind a virtual router, a port
forwarding rule on a VIP created from the rule's own form, moved from VM1 to VM2, and a second VIP
forwarding port 2222 to VM1's 22. Each "ssh root@<vip>" is typed in a VM's console on the private
network: it goes out to the router's public leg and back in (hairpin), as from the public network.
"""

import pytest

from .conftest import login, shot
from .steps import api, base_cloud, image_path, l2_attached, new_vm, only, open_console, save, terminal, toast

pytestmark = [pytest.mark.slow, pytest.mark.root]

SSH = "ssh -o BatchMode=yes -o ConnectTimeout=5"


def new_rule(page, name, vip_name, vip_port, guest_port, vm_name):
    """A port forwarding rule whose VIP is created in the rule's form (the "+" next to VIP)."""
    page.goto("/vrouter/portforwardingrule/add/")
    page.fill("#id_name", name)
    with page.expect_popup() as popup_info:
        page.click("#add_id_vip")
    popup = popup_info.value
    popup.fill("#id_name", vip_name)
    popup.select_option("#id_l3_network", label="PUBLIC-MANAGEMENT-L3")
    popup.click("input[name=_save]")
    if not popup.is_closed():  # the popup closes itself once the VIP is saved, handing it to the form
        popup.wait_for_event("close")
    assert page.locator("#id_vip option:checked").inner_text() == vip_name
    page.select_option("#id_protocol", value="TCP")
    for field, port in (("vip_port_start", vip_port), ("vip_port_end", vip_port), ("guest_port_start", guest_port),
                        ("guest_port_end", guest_port)):
        page.fill(f"#id_{field}", str(port))
    vm_nic = page.locator("#id_vm_nic option", has_text=vm_name).first.get_attribute("value")
    page.select_option("#id_vm_nic", value=vm_nic)
    save(page)
    return only(page, "/api/v1/vips/", vip_name)["ip"]


def test_scenario_02_in_the_browser(page, portal):
    if image_path() is None:
        pytest.skip("the guest image is not built (make image)")
    login(page)
    base_cloud(page, portal)

    # 1-2. The public L2 and the private VLAN 100 L2, both attached to CLUSTER1.
    l2_attached(page, "PUBLIC-MANAGEMENT-L2")
    l2_attached(page, "PRIVATE-L2", vlan=100)

    # 3. PUBLIC-MANAGEMENT-L3: System, a range, nothing else.
    page.goto("/networks/l3network/add/")
    page.fill("#id_name", "PUBLIC-MANAGEMENT-L3")
    page.select_option("#id_l2_network", label="PUBLIC-MANAGEMENT-L2")
    page.check("#id_system")
    page.click("#l3-create input[type=submit]")
    page.locator("#l3-range").wait_for()
    page.fill("#l3-range [name=name]", "PUBLIC-IP-RANGE")
    for field, value in (("start_ip", "198.51.100.230"), ("end_ip", "198.51.100.240"), ("netmask", "255.255.255.0"),
                         ("gateway", "198.51.100.1")):
        page.fill(f"#l3-range [name={field}]", value)
    page.click("#l3-range input[type=submit]")
    page.locator("#l3-ranges", has_text="198.51.100.230-198.51.100.240").wait_for()

    # 4. PRIVATE-L3 by CIDR, DNS, services from the VirtualRouter.
    page.goto("/networks/l3network/add/")
    page.fill("#id_name", "PRIVATE-L3")
    page.select_option("#id_l2_network", label="PRIVATE-L2")
    page.fill("#id_dns_domain", "tutorials.zstack.org")
    page.click("#l3-create input[type=submit]")
    page.locator("#l3-range").wait_for()
    page.fill("#l3-range [name=name]", "PRIVATE-IP-RANGE")
    page.check("#l3-range input[name=method][value=cidr]")
    assert page.locator("#l3-range [name=start_ip]").is_hidden()
    page.fill("#l3-range [name=network_cidr]", "10.0.0.0/24")
    page.click("#l3-range input[type=submit]")
    page.locator("#l3-ranges", has_text="10.0.0.").wait_for()
    page.fill("#l3-dns-form [name=dns]", "8.8.8.8")
    page.click("#l3-dns-form input[type=submit]")
    page.locator("#l3-dns", has_text="8.8.8.8").wait_for()
    for service in ("DHCP", "DNS", "SNAT", "PortForwarding"):
        page.check(f"#l3-services-form input[name=VirtualRouter][value={service}]")
    page.click("#l3-services-form input[type=submit]")
    page.locator("#l3-services", has_text="PortForwarding").wait_for()
    shot(page, "02-04-private-l3")

    # 5. VR-OFFERING: management and public L3 = PUBLIC-MANAGEMENT-L3.
    page.goto("/vrouter/virtualrouteroffering/add/")
    page.fill("#id_name", "VR-OFFERING")
    page.select_option("#id_zone", label="ZONE1")
    page.fill("#id_cpu_num", "1")
    page.fill("#id_memory_size", "512M")
    page.select_option("#id_image", label="VIRTUAL-ROUTER")
    page.select_option("#id_management_l3", label="PUBLIC-MANAGEMENT-L3")
    page.select_option("#id_public_l3", label="PUBLIC-MANAGEMENT-L3")
    page.check("#id_is_default")
    save(page)

    # 6. VM1 (boots the router); 7. PORT-FORWARDING1 on a new VIP, TCP 22 -> 22, VM1; 9. VM2.
    vm1 = new_vm(page, "VM1", "vm1", "PRIVATE-L3")
    vip1 = new_rule(page, "PORT-FORWARDING1", "VIP-1", 22, 22, "VM1")
    vm2 = new_vm(page, "VM2", "vm2", "PRIVATE-L3")

    # 8. ssh root@<vip> lands in VM1 (typed in VM2's console: out through the router and back).
    open_console(page, vm2)
    terminal(page, f"{SSH} root@{vip1} hostname", "vm1")
    shot(page, "02-08-ssh-vip-lands-in-vm1")

    # 10. PORT-FORWARDING1 detached (it stays, bound to no VM), then attached to VM2; 11. it lands in VM2.
    page.goto("/vrouter/portforwardingrule/")
    page.click("#result_list a:text-is('PORT-FORWARDING1')")
    page.click("text=Detach")
    page.click("input[type=submit]")
    toast(page, "detachPortForwardingRule finished")
    page.click("text=Attach to a VM NIC")
    page.select_option("#id_vm_nic", value=page.locator("#id_vm_nic option", has_text="VM2").first
                       .get_attribute("value"))
    page.click("input[type=submit]")
    toast(page, "attachPortForwardingRule finished")
    open_console(page, vm1)
    terminal(page, f"{SSH} root@{vip1} hostname", "vm2")

    # 12. PORT-FORWARDING2: another new VIP, 2222 -> 22, VM1; 13. ssh -p 2222 lands in VM1.
    vip2 = new_rule(page, "PORT-FORWARDING2", "VIP-2", 2222, 22, "VM1")
    assert vip2 != vip1
    open_console(page, vm2)
    terminal(page, f"{SSH} -p 2222 root@{vip2} hostname", "vm1")

    # The private L3's page draws it: router, both VIPs, both VMs, the forwarding arrows.
    page.goto(f"/networks/l3network/{only(page, '/api/v1/l3-networks/', 'PRIVATE-L3')['uuid']}/change/")
    picture = page.locator("svg.nimbo-topology").text_content()
    for text in ("VIP VIP-1", "VIP VIP-2", "VM1", "VM2", "TCP 22→22", "TCP 2222→22"):
        assert text in picture, text
    shot(page, "02-13-topology")
    assert api(page, "/api/v1/port-forwarding-rules/")["count"] == 2
    assert page.foreign_requests == []
