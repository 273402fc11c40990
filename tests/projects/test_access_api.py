"""Who may do what through the API: one status per role for each endpoint.

Roles: the cloud admin; a member and a reader of project A (which owns VM1, SG-A and its rule,
and a VIP); a member of project B ("other"); a staff user with no role; an anonymous client.
Another project's object answers 404; infrastructure answers 403 to everyone but the admin.
"""

import pytest

from tests.projects.conftest import ROLES

pytestmark = pytest.mark.django_db

# (method, url from the world, body from the world, {role: status})
MATRIX = [
    ("get", lambda w: "/api/v1/vms/", None, dict(admin=200, member=200, reader=200, other=200, staff=200, anon=401)),
    ("get", lambda w: f"/api/v1/vms/{w['vm'].uuid}/", None,
     dict(admin=200, member=200, reader=200, other=404, staff=404, anon=401)),
    ("patch", lambda w: f"/api/v1/vms/{w['vm'].uuid}/", lambda w: {"description": "mine"},
     dict(admin=200, member=200, reader=403, other=404, staff=403, anon=401)),
    ("get", lambda w: f"/api/v1/vm-nics/{w['nic'].uuid}/", None,
     dict(admin=200, member=200, reader=200, other=404, staff=404, anon=401)),
    ("get", lambda w: f"/api/v1/security-groups/{w['group'].uuid}/", None,
     dict(admin=200, member=200, reader=200, other=404, staff=404, anon=401)),
    ("post", lambda w: f"/api/v1/security-groups/{w['group'].uuid}/rules/",
     lambda w: {"type": "Ingress", "protocol": "TCP", "start_port": 1, "end_port": 65535,
                 "allowed_cidr": "0.0.0.0/0"},
     dict(admin=201, member=201, reader=403, other=404, staff=403, anon=401)),
    ("delete", lambda w: f"/api/v1/security-groups/{w['group'].uuid}/", None,
     dict(admin=204, member=204, reader=403, other=404, staff=403, anon=401)),
    ("post", lambda w: "/api/v1/security-groups/", lambda w: {"name": "NEW"},
     dict(admin=201, member=201, reader=403, other=201, staff=403, anon=401)),
    ("get", lambda w: f"/api/v1/security-group-rules/{w['rule'].uuid}/", None,
     dict(admin=200, member=200, reader=200, other=404, staff=404, anon=401)),
    ("delete", lambda w: f"/api/v1/security-group-rules/{w['rule'].uuid}/", None,
     dict(admin=204, member=204, reader=403, other=404, staff=403, anon=401)),
    # Naming another project's group in the body: refused as an unknown group, the field named.
    ("post", lambda w: "/api/v1/security-group-rules/",
     lambda w: {"security_group_id": str(w["group"].uuid), "protocol": "tcp", "port_range_min": 80,
                "port_range_max": 80},
     dict(admin=201, member=201, reader=403, other=400, staff=403, anon=401)),
    ("get", lambda w: f"/api/v1/vips/{w['vip'].uuid}/", None,
     dict(admin=200, member=200, reader=200, other=404, staff=404, anon=401)),
    ("patch", lambda w: f"/api/v1/vips/{w['vip'].uuid}/", lambda w: {"description": "x"},
     dict(admin=200, member=200, reader=403, other=404, staff=403, anon=401)),
    ("delete", lambda w: f"/api/v1/vips/{w['vip'].uuid}/", None,
     dict(admin=204, member=204, reader=403, other=404, staff=403, anon=401)),
    ("post", lambda w: "/api/v1/vips/", lambda w: {"name": "VIP2", "l3_network": str(w["public"].uuid)},
     dict(admin=201, member=201, reader=403, other=201, staff=403, anon=401)),
    ("post", lambda w: "/api/v1/vips/", lambda w: {"name": "VIP2", "l3_network": str(w["hidden"].uuid)},
     dict(admin=201, member=400, reader=403, other=400, staff=403, anon=401)),
    # Infrastructure: read by the admin only (zones and offerings are read by all), changed by the admin only.
    ("get", lambda w: "/api/v1/zones/", None, dict(admin=200, member=200, reader=200, other=200, staff=200, anon=401)),
    ("patch", lambda w: f"/api/v1/zones/{w['zone'].uuid}/", lambda w: {"description": "x"},
     dict(admin=200, member=403, reader=403, other=403, staff=403, anon=401)),
    ("post", lambda w: "/api/v1/zones/", lambda w: {"name": "ZONE9"},
     dict(admin=201, member=403, reader=403, other=403, staff=403, anon=401)),
    ("get", lambda w: "/api/v1/clusters/", None,
     dict(admin=200, member=403, reader=403, other=403, staff=403, anon=401)),
    ("post", lambda w: "/api/v1/hosts/", lambda w: {"name": "H"},
     dict(admin=400, member=403, reader=403, other=403, staff=403, anon=401)),
    ("get", lambda w: "/api/v1/l2-networks/", None,
     dict(admin=200, member=403, reader=403, other=403, staff=403, anon=401)),
    ("get", lambda w: f"/api/v1/l3-networks/{w['private'].uuid}/", None,
     dict(admin=200, member=200, reader=200, other=200, staff=200, anon=401)),
    ("get", lambda w: f"/api/v1/l3-networks/{w['hidden'].uuid}/", None,
     dict(admin=200, member=404, reader=404, other=404, staff=404, anon=401)),
    ("patch", lambda w: f"/api/v1/l3-networks/{w['private'].uuid}/", lambda w: {"description": "x"},
     dict(admin=200, member=403, reader=403, other=403, staff=403, anon=401)),
    ("post", lambda w: "/api/v1/virtual-routers/reconcile/", None,
     dict(admin=202, member=403, reader=403, other=403, staff=403, anon=401)),
    ("get", lambda w: "/api/v1/host-firewalls/", None,
     dict(admin=200, member=403, reader=403, other=403, staff=403, anon=401)),
    ("get", lambda w: f"/api/v1/vm-nics/{w['nic'].uuid}/firewall/", None,
     dict(admin=200, member=200, reader=200, other=404, staff=404, anon=401)),
    ("get", lambda w: "/api/v1/jobs/", None, dict(admin=200, member=200, reader=200, other=200, staff=200, anon=401)),
    ("get", lambda w: f"/api/v1/port-forwarding-rules/{w['pf'].uuid}/", None,
     dict(admin=200, member=200, reader=200, other=404, staff=404, anon=401)),
    ("patch", lambda w: f"/api/v1/port-forwarding-rules/{w['pf'].uuid}/", lambda w: {"description": "x"},
     dict(admin=200, member=200, reader=403, other=404, staff=403, anon=401)),
    ("post", lambda w: f"/api/v1/port-forwarding-rules/{w['pf'].uuid}/attach/",
     lambda w: {"vm_nic": str(w["nic"].uuid)},
     dict(admin=200, member=200, reader=403, other=404, staff=403, anon=401)),
    ("post", lambda w: "/api/v1/port-forwarding-rules/",
     lambda w: {"name": "PF2", "vip": str(w["vip"].uuid), "protocol": "UDP", "vip_port_start": 53, "vip_port_end": 53},
     dict(admin=201, member=201, reader=403, other=400, staff=403, anon=401)),
    ("get", lambda w: f"/api/v1/eips/{w['eip'].uuid}/", None,
     dict(admin=200, member=200, reader=200, other=404, staff=404, anon=401)),
    ("delete", lambda w: f"/api/v1/eips/{w['eip'].uuid}/", None,
     dict(admin=204, member=204, reader=403, other=404, staff=403, anon=401)),
    ("post", lambda w: f"/api/v1/eips/{w['eip'].uuid}/attach/", lambda w: {"vm_nic": str(w["nic"].uuid)},
     dict(admin=200, member=200, reader=403, other=404, staff=403, anon=401)),
    ("get", lambda w: "/api/v1/volumes/", None,
     dict(admin=200, member=200, reader=200, other=200, staff=200, anon=401)),
    ("get", lambda w: "/api/v1/images/", None, dict(admin=200, member=200, reader=200, other=200, staff=200, anon=401)),
    ("get", lambda w: "/api/v1/instance-offerings/", None,
     dict(admin=200, member=200, reader=200, other=200, staff=200, anon=401)),
    ("post", lambda w: "/api/v1/instance-offerings/", lambda w: {"name": "BIG", "cpu_num": 8, "memory_size": "8G"},
     dict(admin=201, member=403, reader=403, other=403, staff=403, anon=401)),
    ("get", lambda w: "/api/v1/primary-storages/", None,
     dict(admin=200, member=403, reader=403, other=403, staff=403, anon=401)),
    ("get", lambda w: "/api/v1/backup-storages/", None,
     dict(admin=200, member=403, reader=403, other=403, staff=403, anon=401)),
    ("get", lambda w: "/api/v1/ip-ranges/", None,
     dict(admin=200, member=403, reader=403, other=403, staff=403, anon=401)),
    ("get", lambda w: "/api/v1/virtual-routers/", None,
     dict(admin=200, member=403, reader=403, other=403, staff=403, anon=401)),
    ("get", lambda w: "/api/v1/virtual-router-offerings/", None,
     dict(admin=200, member=403, reader=403, other=403, staff=403, anon=401)),
    ("get", lambda w: f"/api/v1/projects/{w['a'].uuid}/", None,
     dict(admin=200, member=200, reader=200, other=404, staff=404, anon=401)),
    ("post", lambda w: "/api/v1/projects/", lambda w: {"name": "NEW"},
     dict(admin=201, member=403, reader=403, other=403, staff=403, anon=401)),
    ("post", lambda w: f"/api/v1/projects/{w['a'].uuid}/members/", lambda w: {"user": "bob", "role": "member"},
     dict(admin=200, member=403, reader=403, other=403, staff=403, anon=401)),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", range(len(MATRIX)), ids=[f"{m} {i}" for i, (m, *_) in enumerate(MATRIX)])
def test_each_role_gets_the_one_right_status(world, client_for, case, role):
    method, url, data, expected = MATRIX[case]
    response = getattr(client_for(role), method)(url(world), data(world) if data else None, format="json")
    assert response.status_code == expected[role], (role, url(world), response.content[:300])


def names(response):
    assert response.status_code == 200, response.content
    return sorted(row["name"] for row in response.json()["results"])


def test_lists_show_only_the_current_project(world, client_for):
    assert names(client_for("member").get("/api/v1/security-groups/")) == ["SG-A"]
    assert names(client_for("other").get("/api/v1/security-groups/")) == ["SG-B"]
    assert names(client_for("staff").get("/api/v1/security-groups/")) == []
    assert names(client_for("admin").get("/api/v1/security-groups/")) == ["SG-A", "SG-B"]
    assert names(client_for("other").get("/api/v1/vms/")) == []
    assert names(client_for("member").get("/api/v1/l3-networks/")) == ["PRIVATE", "PUBLIC"]


def test_the_project_header_chooses_among_the_users_projects(world, client_for):
    from apps.projects.models import Membership

    Membership.objects.create(user=world["users"]["member"], project=world["b"], role="reader")
    member = client_for("member")
    assert names(member.get("/api/v1/security-groups/", HTTP_X_NIMBO_PROJECT="PROJECT-B")) == ["SG-B"]
    assert member.post("/api/v1/security-groups/", {"name": "NO"}, format="json",
                       HTTP_X_NIMBO_PROJECT=str(world["b"].uuid)).status_code == 403  # a reader there
    outsider = client_for("other")
    assert outsider.get("/api/v1/vms/", HTTP_X_NIMBO_PROJECT="PROJECT-A").status_code == 404
    admin = client_for("admin")
    assert names(admin.get("/api/v1/security-groups/", HTTP_X_NIMBO_PROJECT="PROJECT-A")) == ["SG-A", "SG-B"]


def test_what_a_member_creates_is_their_projects_and_its_job_says_who_and_where(world, client_for):
    from apps.core.models import Job
    from apps.secgroups.models import SecurityGroup

    response = client_for("other").post("/api/v1/security-groups/", {"name": "WEB"}, format="json")
    assert response.status_code == 201
    assert SecurityGroup.objects.get(name="WEB").project == world["b"]
    job = Job.objects.get(kind="createSecurityGroup")
    assert (job.project, job.requested_by) == (world["b"], world["users"]["other"])
    assert [j["kind"] for j in client_for("other").get("/api/v1/jobs/").json()["results"]] == ["createSecurityGroup"]
    assert client_for("member").get("/api/v1/jobs/").json()["results"] == []
    assert client_for("member").get(f"/api/v1/jobs/{job.uuid}/").status_code == 404


def test_a_vm_cannot_use_an_l3_network_or_group_the_project_cannot_see(world, client_for):
    from apps.compute.models import InstanceOffering
    from apps.images.models import Image

    data = {"name": "VM2", "instance_offering": str(InstanceOffering.objects.get().uuid),
            "image": str(Image.objects.get().uuid), "l3_networks": [str(world["hidden"].uuid)], "start": False}
    response = client_for("member").post("/api/v1/vms/", data, format="json")
    assert response.status_code == 400 and response.json()["error"]["field"] == "l3_networks"
    data["l3_networks"] = [str(world["private"].uuid)]
    response = client_for("member").post("/api/v1/vms/", data, format="json")
    assert response.status_code == 201, response.content
    nic = response.json()["nics"][0]["uuid"]
    joined = client_for("other").post(f"/api/v1/security-groups/{world['group_b'].uuid}/nics/", {"nics": [nic]},
                                      format="json")
    assert joined.status_code == 400 and joined.json()["error"]["field"] == "nics"
    # Project B is not told that project A's NIC exists: it is unknown, as another project's object is.
    assert "not found" in joined.json()["error"]["message"], joined.json()


def test_a_rules_remote_group_must_be_in_the_rules_project(world, client_for):
    rule = {"security_group_id": str(world["group"].uuid), "remote_group_id": str(world["group_b"].uuid)}
    response = client_for("member").post("/api/v1/security-group-rules/", rule, format="json")
    assert response.status_code == 400 and response.json()["error"]["field"] == "remote_group_id"
    # Even the admin, who sees both, cannot tie project A's rule to project B's group (as Neutron refuses).
    response = client_for("admin").post("/api/v1/security-group-rules/", rule, format="json")
    assert response.status_code == 400 and response.json()["error"]["field"] == "remote_group_id"


def test_only_the_admin_shares_and_a_project_adds_images_by_http_only(world, client_for):
    from tests.support.factories import make_local_backup_storage

    storage = make_local_backup_storage()
    image = {"name": "MINE", "url": "file:///etc/shadow", "backup_storages": [str(storage.uuid)]}
    response = client_for("member").post("/api/v1/images/", image, format="json")
    assert response.status_code == 400 and response.json()["error"]["field"] == "url"
    response = client_for("member").post("/api/v1/images/", {**image, "url": "http://example.org/a.qcow2",
                                                             "shared": True}, format="json")
    assert response.status_code == 403
    response = client_for("admin").patch(f"/api/v1/l3-networks/{world['hidden'].uuid}/", {"shared": True},
                                         format="json")
    assert response.status_code == 200 and response.json()["shared"] is True
    assert client_for("other").get(f"/api/v1/l3-networks/{world['hidden'].uuid}/").status_code == 200


def test_even_the_admin_cannot_put_one_projects_nic_in_anothers_group(world, client_for):
    response = client_for("admin").post(f"/api/v1/security-groups/{world['group_b'].uuid}/nics/",
                                        {"nics": [str(world["nic"].uuid)]}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == f"VM NIC {world['nic']} is not in the project of security group SG-B."
