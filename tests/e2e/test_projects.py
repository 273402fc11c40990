"""A project in the browser: the admin creates it and its member; the member logs in, makes a security
group and a VM on the admin's shared L3, and sees nothing of the admin's."""

import pytest

from .conftest import login, shot
from .steps import choose, image_path, save, toast

pytestmark = pytest.mark.slow

MEMBER_PASSWORD = "member-Password-7"


def test_a_member_works_in_their_project_and_sees_nothing_of_the_admins(page, browser, portal):
    guest_image = image_path()
    if guest_image is None:
        pytest.skip("the guest image is not built (make image)")
    login(page)
    # The admin's shared resources: an image, an offering, an L3 with the SecurityGroup service, shared.
    page.goto("/infra/zone/add/")
    page.fill("#id_name", "PROJECTS-ZONE")
    save(page)
    page.goto("/storage/backupstorage/add/")
    page.fill("#id_name", "PROJECTS-BS")
    page.select_option("#id_type", value="Local")
    page.fill("#id_folder", str(portal["var"] / "projects-bs"))
    page.select_option("#id_zones_from", label="PROJECTS-ZONE")
    page.click("#id_zones_add")
    save(page)
    toast(page, "addBackupStorage finished")
    page.goto("/images/image/add/")
    page.fill("#id_name", "SHARED-IMAGE")
    page.fill("#id_url", guest_image)
    page.select_option("#id_format", value="qcow2")
    page.check("#id_shared")
    page.select_option("#id_backup_storages", label="PROJECTS-BS")
    save(page)
    page.goto("/compute/instanceoffering/add/")
    page.fill("#id_name", "PROJECTS-OFFERING")
    page.fill("#id_cpu_num", "1")
    page.fill("#id_memory_size", "256M")
    save(page)
    page.goto("/networks/l2network/add/")
    page.fill("#id_name", "PROJECTS-L2")
    page.select_option("#id_zone", label="PROJECTS-ZONE")
    page.fill("#id_physical_interface", "eth9")
    save(page)
    page.goto("/networks/l3network/add/")
    page.fill("#id_name", "SHARED-L3")
    choose(page, "#id_l2_network", "PROJECTS-L2")
    page.check("#id_shared")
    page.click("#l3-create input[type=submit]")
    page.locator("#l3-range").wait_for()
    page.fill("#l3-range [name=start_ip]", "10.77.0.10")
    page.fill("#l3-range [name=end_ip]", "10.77.0.20")
    page.fill("#l3-range [name=netmask]", "255.255.255.0")
    page.fill("#l3-range [name=gateway]", "10.77.0.1")
    page.click("#l3-range input[type=submit]")
    page.locator("#l3-ranges", has_text="10.77.0.10-10.77.0.20").wait_for()
    page.check("#l3-services-form input[name=SecurityGroup][value=SecurityGroup]")
    page.click("#l3-services-form input[type=submit]")
    page.locator("#l3-services", has_text="SecurityGroup").wait_for()
    # Something of the admin's that the member must not see.
    page.goto("/secgroups/securitygroup/add/")
    page.fill("#id_name", "ADMINS-GROUP")
    save(page)

    # The member and the project.
    page.goto("/auth/user/add/")
    page.fill("#id_username", "carol")
    page.fill("#id_password1", MEMBER_PASSWORD)
    page.fill("#id_password2", MEMBER_PASSWORD)
    save(page)
    page.goto("/projects/project/add/")
    page.fill("#id_name", "WEB")
    page.select_option("#id_memberships-0-user", label="carol")
    page.select_option("#id_memberships-0-role", value="member")
    save(page)
    shot(page, "projects-01-admin")
    page.goto("/images/image/")
    page.locator(".nimbo-badge", has_text="Ready").first.wait_for(timeout=120000)

    # The member, in a browser of her own.
    context = browser.new_context(base_url=portal["url"], viewport={"width": 1400, "height": 900})
    carol = context.new_page()
    login(carol, user="carol", password=MEMBER_PASSWORD)
    carol.goto("/secgroups/securitygroup/add/")
    carol.fill("#id_name", "WEB-GROUP")
    carol.click("input[name=_continue]")
    carol.click("text=Attach to an L3 network")
    carol.select_option("#id_l3_network", label="SHARED-L3")
    carol.click("input[type=submit]")
    assert "SHARED-L3" in carol.locator("#l3_refs-group").inner_text()
    carol.goto("/compute/vminstance/add/")
    carol.fill("#id_name", "WEB-VM")
    choose(carol, "#id_instance_offering", "PROJECTS-OFFERING")
    carol.select_option("#id_image", label="SHARED-IMAGE")
    carol.check("#id_l3_networks input[type=checkbox] >> nth=0")
    carol.check("#id_security_groups input[type=checkbox] >> nth=0")
    assert carol.locator("#id_security_groups").inner_text().strip() == "WEB-GROUP"
    carol.click("input[name=_save]")
    carol.wait_for_load_state()
    # Recorded in her project (with no host in this zone its first boot then fails, and the VM goes).
    jobs = carol.request.get("/api/v1/jobs/").json()["results"]
    created = [j for j in jobs if j["kind"] == "createVmInstance"]
    assert [(j["target_name"], j["state"]) for j in created] == [("WEB-VM", "succeeded")]
    assert {j["requested_by"] for j in jobs} == {"carol"}  # none of the admin's jobs
    assert not [j for j in jobs if j["kind"] in ("createZone", "addBackupStorage", "addImage")]
    groups = [g["name"] for g in carol.request.get("/api/v1/security-groups/").json()["results"]]
    assert groups == ["WEB-GROUP"]
    carol.goto("/secgroups/securitygroup/")
    assert "ADMINS-GROUP" not in carol.content()
    assert carol.request.get("/api/v1/hosts/").status == 403
    carol.goto("/")
    assert "Hosts" not in carol.locator("#content").inner_text()
    shot(carol, "projects-02-member")
    context.close()
