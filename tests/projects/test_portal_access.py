"""The portal asks the same rules: pages, wizards, admin actions, the job pages and the RQ dashboard."""

import pytest
from django.test import Client

from apps.core.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def portal(world):
    def make(role):
        client = Client()
        if role != "anon":
            client.force_login(world["users"][role])
        return client

    return make


@pytest.mark.parametrize("url", ["/portal/clusters/new/", "/portal/networks/l3-wizard/", "/django_rq/dashboard/",
                                 "/infra/host/", "/auth/group/", "/projects/project/add/"])
def test_infrastructure_pages_wizards_and_the_rq_dashboard_are_the_admins(world, portal, url):
    assert portal("admin").get(url).status_code == 200
    for role in ("staff", "member", "reader"):
        assert portal(role).get(url).status_code == 403, (role, url)
    assert portal("anon").get(url).status_code == 302  # to the login page


def test_a_staff_user_without_the_admin_role_cannot_create_a_cluster_through_the_wizard(world, portal):
    from apps.infra.models import Cluster

    response = portal("staff").post("/portal/clusters/new/", {"_to": "finish", "name": "C", "zone": world["zone"].pk,
                                                              "hypervisor_type": "KVM"})
    assert response.status_code == 403
    assert not Cluster.objects.exists()


def test_a_member_sees_and_changes_only_their_projects_vms(world, portal):
    vm = world["vm"]
    member, other, reader = portal("member"), portal("other"), portal("reader")
    assert "VM1" in member.get("/compute/vminstance/").content.decode()
    assert "VM1" not in other.get("/compute/vminstance/").content.decode()
    assert other.get(f"/compute/vminstance/{vm.pk}/change/").status_code == 302  # "does not exist", to the index
    response = member.post(f"/compute/vminstance/{vm.pk}/change/", {"name": "VM1", "hostname": "vm1",
                                                                    "description": "mine", "_save": "Save"})
    assert response.status_code == 302, response.content[:2000]
    vm.refresh_from_db()
    assert vm.description == "mine"
    assert reader.post(f"/compute/vminstance/{vm.pk}/change/", {"name": "VM1", "description": "no"}).status_code == 403
    assert other.post(f"/compute/vminstance/{vm.pk}/do/stop/").status_code == 404  # as if it did not exist
    assert reader.post(f"/compute/vminstance/{vm.pk}/do/stop/").status_code == 403  # may see, may not change
    assert not Job.objects.filter(kind="stopVmInstance").exists()  # no stop was even queued
    vm.refresh_from_db()
    assert vm.state == "Running"


def test_a_members_new_security_group_goes_to_their_project(world, portal):
    from apps.secgroups.models import SecurityGroup

    import re

    other = portal("other")
    page = other.get("/secgroups/securitygroup/add/").content.decode()
    management = dict(re.findall(r'name="([^"]+-(?:TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS)"[^>]*value="(\d+)"', page))
    response = other.post("/secgroups/securitygroup/add/", {"name": "WEB", "description": "", "_save": "Save",
                                                            **management})
    assert response.status_code == 302, response.content[:3000]
    assert SecurityGroup.objects.get(name="WEB").project == world["b"]


def test_the_job_pages_show_only_what_the_user_may_see(world, portal):
    job = Job.objects.create(kind="createSecurityGroup", project=world["a"], state="succeeded")
    assert portal("member").get(f"/portal/jobs/{job.pk}/").status_code == 200
    assert portal("other").get(f"/portal/jobs/{job.pk}/").status_code == 404


def test_a_user_lists_and_revokes_their_own_api_tokens_only(world, portal):
    from rest_framework.authtoken.models import Token

    mine = Token.objects.create(user=world["users"]["member"])
    theirs = Token.objects.create(user=world["users"]["other"])
    member = portal("member")
    page = member.get("/authtoken/tokenproxy/").content.decode()
    assert "alice" in page and "bob" not in page
    assert member.get(f"/authtoken/tokenproxy/{world['users']['other'].pk}/delete/").status_code == 302  # not found
    response = member.post(f"/authtoken/tokenproxy/{world['users']['member'].pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Token.objects.filter(pk=mine.pk).exists() and Token.objects.filter(pk=theirs.pk).exists()
    response = member.post("/authtoken/tokenproxy/add/", {"user": world["users"]["other"].pk})
    assert response.status_code == 200 and not Token.objects.filter(user=world["users"]["other"]).count() > 1
    response = member.post("/authtoken/tokenproxy/add/", {"user": world["users"]["member"].pk})
    assert response.status_code == 302 and Token.objects.filter(user=world["users"]["member"]).exists()


def test_the_portal_switches_the_current_project_among_the_users_own(world, portal):
    from apps.projects.models import Membership

    Membership.objects.create(user=world["users"]["member"], project=world["b"], role="reader")
    member = portal("member")
    page = member.get("/secgroups/securitygroup/").content.decode()
    assert "SG-A" in page and "SG-B" not in page and 'name="project"' in page
    assert member.post("/portal/project/", {"project": str(world["b"].uuid), "next": "/"}).status_code == 302
    page = member.get("/secgroups/securitygroup/").content.decode()
    assert "SG-B" in page and "SG-A" not in page
    assert portal("other").post("/portal/project/", {"project": str(world["a"].uuid)}).status_code == 400
    # `next` is followed only to a path of this portal: a bare word or another site goes home, never a 500.
    for target in ("nope", "https://evil.example/", "//evil.example/"):
        response = member.post("/portal/project/", {"project": str(world["b"].uuid), "next": target})
        assert (response.status_code, response["Location"]) == (302, "/"), target


@pytest.mark.parametrize("role", ["admin", "member", "reader", "staff"])
def test_every_admin_list_and_add_page_answers_without_error(world, portal, role):
    from django.contrib import admin
    from django.urls import NoReverseMatch, reverse

    client = portal(role)
    for model in admin.site._registry:
        for view in ("changelist", "add"):
            try:
                url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}")
            except NoReverseMatch:
                continue
            status = client.get(url).status_code
            assert status in (200, 302, 403), (role, url, status)
            if role == "admin":
                assert status in (200, 302, 403) and (view == "add" or status == 200), (url, status)


def test_a_reader_sees_the_vm_page_without_its_buttons_and_no_other_projects_group(world, portal):
    from apps.secgroups.models import SecurityGroupL3NetworkRef

    for group in (world["group"], world["group_b"]):
        SecurityGroupL3NetworkRef.objects.create(security_group=group, l3_network=world["private"])
    url = f"/compute/vminstance/{world['vm'].pk}/change/"
    member_page = portal("member").get(url).content.decode()
    assert "nimbo-action-stop" in member_page and "SG-A" in member_page and "SG-B" not in member_page
    reader_page = portal("reader").get(url).content.decode()
    assert "nimbo-action-stop" not in reader_page and "Add to group" not in reader_page


def test_a_groups_action_pages_offer_no_other_projects_nic_or_network(world, portal):
    from apps.compute.models import VmNic
    from apps.secgroups.models import SecurityGroupL3NetworkRef

    # Project B's group on the shared network where project A's VM1 has its NIC.
    SecurityGroupL3NetworkRef.objects.create(security_group=world["group_b"], l3_network=world["private"])
    url = f"/secgroups/securitygroup/{world['group_b'].pk}/add-nics/"
    assert "VM1" in portal("admin").get(url).content.decode()
    assert "VM1" not in portal("other").get(url).content.decode()
    response = portal("other").post(url, {"nics": [str(world["nic"].pk)]})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not VmNic.objects.filter(security_group_refs__security_group=world["group_b"]).exists()
