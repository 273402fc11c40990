"""Scenario 01 by clicking in the portal, as a person does: from login to two VMs Running on FLAT-L3,
one in SECURITY-GROUP-1, on a sandbox host with namespace guests; then steps 16-19 typed in OUTER-VM's
console (ping refused, ssh allowed; the rule deleted: ssh refused; the NIC out of the group: ping
answers). The test reads the API only to check.

Screenshots of each page land in var/screenshots/ (look at them to judge what a person sees).
"""

import pytest

from tests.support.sandbox import free_ip

from .conftest import login, shot
from .steps import api, badge, choose, image_path, only, save, terminal, terminal_text, toast

pytestmark = [pytest.mark.slow, pytest.mark.root]


def test_scenario_01_in_the_browser(page, portal):
    guest_image = image_path()
    if guest_image is None:
        pytest.skip("the guest image is not built (make image)")
    login(page)
    shot(page, "00-home")

    # 2. Zone.
    page.goto("/infra/zone/add/")
    page.fill("#id_name", "ZONE1")
    save(page)
    toast(page, "createZone finished")

    # 3. Cluster: the wizard; no storage or L2 yet, so both steps say they are skipped; created at Finish.
    page.goto("/infra/cluster/add/")
    page.fill("#id_name", "CLUSTER1")
    page.select_option("#id_zone", label="ZONE1")
    page.select_option("#id_hypervisor_type", value="Sandbox")
    shot(page, "03-cluster-wizard-1")
    page.click("button[value=storage]")
    page.locator("text=this step is skipped").wait_for()
    shot(page, "03-cluster-wizard-2")
    page.click("button[value=l2]")
    page.locator("[data-step=l2]").wait_for()
    assert api(page, "/api/v1/clusters/")["count"] == 0  # nothing before Finish
    page.click("button[value=finish]")
    page.locator("text=Cluster CLUSTER1 is created").wait_for()
    toast(page, "createCluster finished")

    # 4. Host: the form keeps its input when the password is missing, the error next to the field.
    page.goto("/infra/host/add/")
    page.fill("#id_name", "HOST1")
    page.select_option("#id_cluster", label="CLUSTER1")
    management_ip = free_ip()
    page.fill("#id_management_ip", management_ip)
    page.click("input[name=_save]")
    assert page.locator(".field-password .errorlist").inner_text() == "Enter the SSH password."
    assert page.input_value("#id_management_ip") == management_ip
    page.fill("#id_password", "s3cret-Pw")
    save(page)  # the job's live page opens: its steps fill in as the host is prepared
    page.goto("/infra/host/")
    host = only(page, "/api/v1/hosts/", "HOST1")
    badge(page, host["uuid"], "Connected", timeout=120000)  # the list follows the job, no reload
    toast(page, "addHost finished")
    shot(page, "04-host-connected")

    # 5. Primary storage (local directories on the host), attached to CLUSTER1: two calls, two notifications.
    page.goto("/storage/primarystorage/add/")
    page.fill("#id_name", "PRIMARY-STORAGE1")
    page.select_option("#id_zone", label="ZONE1")
    page.select_option("#id_type", value="LocalStorage")
    page.fill("#id_url", str(portal["var"] / "primary"))
    save(page)
    page.locator("#result_list input.action-select").first.check()
    page.select_option("select[name=action]", value="attach_to_zone_clusters")
    page.click("button[name=index]")
    toast(page, "attachPrimaryStorageToCluster finished")

    # 6. Backup storage, 7. images added by path (a download job each).
    page.goto("/storage/backupstorage/add/")
    page.fill("#id_name", "BACKUP-STORAGE1")
    page.select_option("#id_type", value="Local")
    page.fill("#id_folder", str(portal["var"] / "backupStorage"))
    page.select_option("#id_zones_from", label="ZONE1")
    page.click("#id_zones_add")
    save(page)
    toast(page, "addBackupStorage finished")
    for name, system in (("zs-sample-image", False), ("VIRTUAL-ROUTER", True)):
        page.goto("/images/image/add/")
        page.fill("#id_name", name)
        page.fill("#id_url", guest_image)
        page.select_option("#id_format", value="qcow2")
        if system:
            page.check("#id_system")
        page.select_option("#id_backup_storages", label="BACKUP-STORAGE1")
        save(page)
    page.goto("/images/image/")
    image = only(page, "/api/v1/images/", "zs-sample-image")
    badge(page, image["uuid"], "Ready")
    shot(page, "07-images")

    # 8. Instance offering, memory typed as people write it.
    page.goto("/compute/instanceoffering/add/")
    page.fill("#id_name", "512M-512HZ")
    page.fill("#id_cpu_num", "1")
    page.fill("#id_cpu_speed", "512")
    page.fill("#id_memory_size", "512M")
    save(page)
    assert "512 MiB" in page.locator("#result_list").inner_text()

    # 9. FLAT-L2 attached to CLUSTER1.
    page.goto("/networks/l2network/add/")
    page.fill("#id_name", "FLAT-L2")
    page.select_option("#id_zone", label="ZONE1")
    page.fill("#id_physical_interface", "eth0")
    save(page)
    page.click("#result_list a:text('FLAT-L2')")
    page.click("text=Attach to a cluster")
    page.select_option("#id_cluster", label="CLUSTER1")
    page.click("input[type=submit]")
    toast(page, "attachL2NetworkToCluster finished")

    # 10. FLAT-L3 in one wizard: create, range, DNS, services.
    page.goto("/networks/l3network/add/")
    page.fill("#id_name", "FLAT-L3")
    choose(page, "#id_l2_network", "FLAT-L2")
    page.fill("#id_dns_domain", "tutorials.zstack.org")
    page.click("#l3-create input[type=submit]")
    page.locator("#l3-range").wait_for()
    page.fill("#l3-range [name=start_ip]", "198.51.100.230")
    page.fill("#l3-range [name=end_ip]", "198.51.100.240")
    page.fill("#l3-range [name=netmask]", "255.255.255.0")
    page.fill("#l3-range [name=gateway]", "198.51.100.1")
    page.click("#l3-range input[type=submit]")
    page.locator("#l3-ranges", has_text="198.51.100.230-198.51.100.240").wait_for()
    page.fill("#l3-dns-form [name=dns]", "8.8.8.8")
    page.click("#l3-dns-form input[type=submit]")
    page.locator("#l3-dns", has_text="8.8.8.8").wait_for()
    for provider, service in (("VirtualRouter", "DHCP"), ("VirtualRouter", "DNS"), ("SecurityGroup", "SecurityGroup")):
        page.check(f"#l3-services-form input[name={provider}][value={service}]")
    page.click("#l3-services-form input[type=submit]")
    page.locator("#l3-services", has_text="SecurityGroup").wait_for()
    shot(page, "10-l3-wizard")

    # 11. VR offering.
    page.goto("/vrouter/virtualrouteroffering/add/")
    page.fill("#id_name", "VR-OFFERING")
    page.select_option("#id_zone", label="ZONE1")
    page.fill("#id_cpu_num", "1")
    page.fill("#id_cpu_speed", "512")
    page.fill("#id_memory_size", "512M")
    page.select_option("#id_image", label="VIRTUAL-ROUTER")
    page.select_option("#id_management_l3", label="FLAT-L3")
    page.check("#id_is_default")
    save(page)

    # 12. SECURITY-GROUP-1: one rule, TCP 22 by name, attached to FLAT-L3.
    page.goto("/secgroups/securitygroup/add/")
    page.fill("#id_name", "SECURITY-GROUP-1")
    page.click("input[name=_continue]")
    page.click("text=Add a rule")
    page.select_option("#id_protocol", value="tcp")
    page.fill("#id_port_range_min", "22")
    page.fill("#id_port_range_max", "22")
    save(page)
    rules = page.locator("#rules-group").inner_text()
    assert "tcp" in rules and "22" in rules and "\t6\t" not in rules
    page.click("text=Attach to an L3 network")
    page.select_option("#id_l3_network", label="FLAT-L3")
    page.click("input[type=submit]")
    assert "FLAT-L3" in page.locator("#l3_refs-group").inner_text()
    shot(page, "12-security-group")

    # 13. INNER-VM: the New VM form; the page follows its boot until Running, without a reload.
    vms = {}
    for name, hostname in (("INNER-VM", "inner"), ("OUTER-VM", "outer")):
        page.goto("/compute/vminstance/add/")
        page.fill("#id_name", name)
        page.fill("#id_hostname", hostname)
        choose(page, "#id_instance_offering", "512M-512HZ")
        page.select_option("#id_image", label="zs-sample-image")
        page.check("#id_l3_networks input[type=checkbox] >> nth=0")
        page.select_option("#id_guest_kind", value="Namespace")
        shot(page, f"13-new-vm-{hostname}")
        save(page)
        vms[name] = page.url.rstrip("/").split("/")[-2]
        badge(page, vms[name], "Running", timeout=180000)
        toast(page, "startVmInstance finished")
        shot(page, f"13-vm-{hostname}-running")

    # 14. INNER-VM's NIC joins SECURITY-GROUP-1 from its page.
    page.goto(f"/compute/vminstance/{vms['INNER-VM']}/change/")
    page.click("#security-groups button:text('Add to group')")
    page.locator("#security-groups a", has_text="SECURITY-GROUP-1").wait_for()
    shot(page, "14-inner-in-group")

    inner = api(page, f"/api/v1/vms/{vms['INNER-VM']}/")
    outer = api(page, f"/api/v1/vms/{vms['OUTER-VM']}/")
    assert (inner["state"], outer["state"]) == ("Running", "Running")
    group = only(page, "/api/v1/security-groups/", "SECURITY-GROUP-1")
    members = api(page, f"/api/v1/security-groups/{group['uuid']}/")
    assert [n["ip"] for n in inner["nics"]][0].startswith("198.51.100.23")
    assert "vm_nics" not in members or len(members["vm_nics"]) == 1

    # 16. In OUTER-VM's console: ping to INNER-VM fails (no ICMP rule), ssh to it succeeds (TCP 22).
    inner_ip = inner["nics"][0]["ip"]
    page.goto(f"/compute/vminstance/{vms['OUTER-VM']}/change/")
    page.wait_for_selector("#vm-terminal[data-connected='1']", timeout=20000)
    terminal(page, "hostname", "outer")
    terminal(page, f"ping -c1 -W1 {inner_ip} >/dev/null; echo ping=$?", "ping=1")
    terminal(page, f"ssh -o BatchMode=yes -o ConnectTimeout=5 root@{inner_ip} hostname; echo ssh=$?", "ssh=0")
    assert "\ninner\n" in terminal_text(page)
    shot(page, "16-outer-console")

    # 17. The port-22 rule deleted from the group's page; 18. ssh from OUTER-VM now fails.
    page.goto(f"/secgroups/securitygroup/{group['uuid']}/change/")
    page.locator("#rules-group tr", has_text="tcp").locator("a.inlineviewlink, a.inlinechangelink").click()
    assert page.locator("input[name=_save]").count() == 0  # a rule never changes: no Save
    page.click("a.deletelink")
    page.click("input[type=submit]")
    page.wait_for_url(f"**/secgroups/securitygroup/{group['uuid']}/change/")
    assert "tcp" not in page.locator("#rules-group").inner_text()
    toast(page, "syncSecurityGroups finished")
    page.goto(f"/compute/vminstance/{vms['OUTER-VM']}/change/")
    page.wait_for_selector("#vm-terminal[data-connected='1']", timeout=20000)
    terminal(page, f"ssh -o BatchMode=yes -o ConnectTimeout=3 root@{inner_ip} hostname; echo ssh=$?", "ssh=255")

    # 19. INNER-VM's NIC leaves the group from its page: everything is allowed again (ping answers).
    page.goto(f"/compute/vminstance/{vms['INNER-VM']}/change/")
    page.click("#security-groups button:text('remove')")
    page.locator("#security-groups", has_text="none: unfiltered").wait_for()
    toast(page, "syncSecurityGroups finished")
    page.goto(f"/compute/vminstance/{vms['OUTER-VM']}/change/")
    page.wait_for_selector("#vm-terminal[data-connected='1']", timeout=20000)
    terminal(page, f"ping -c1 -W2 {inner_ip} >/dev/null; echo ping=$?", "ping=0")

    # The VM list shows both Running; Stop turns INNER-VM's badge Stopped live; Destroy removes both.
    page.goto("/compute/vminstance/")
    shot(page, "15-vm-list")
    page.goto(f"/compute/vminstance/{vms['INNER-VM']}/change/")
    page.click("#vm-summary button:text('Stop')")
    badge(page, vms["INNER-VM"], "Stopped", timeout=60000)
    for pk in vms.values():
        page.goto(f"/compute/vminstance/{pk}/change/")
        page.once("dialog", lambda d: d.accept())
        page.click("#vm-summary button:text('Destroy')")
        toast(page, "destroyVmInstance finished", timeout=90000)
    assert api(page, "/api/v1/vms/")["count"] == 0

    assert page.foreign_requests == []
