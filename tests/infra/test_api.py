"""Zones, clusters and instance offerings through the API: every validation rule, with its error body."""

import pytest

from apps.core.models import Job
from apps.infra.models import Cluster, Zone
from tests.support.factories import make_cluster, make_zone

pytestmark = pytest.mark.django_db


def error(response, status):
    assert response.status_code == status, response.content
    return response.json()["error"]


def test_create_list_update_delete_zone(api):
    created = api.post("/api/v1/zones/", {"name": "ZONE1", "description": "first"}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "ZONE1" and body["state"] == "Enabled" and body["cluster_count"] == 0
    uuid = body["uuid"]
    listed = api.get("/api/v1/zones/").json()
    assert listed["count"] == 1 and listed["results"][0]["uuid"] == uuid
    patched = api.patch(f"/api/v1/zones/{uuid}/", {"state": "Disabled"}, format="json")
    assert patched.status_code == 200 and patched.json()["state"] == "Disabled"
    assert api.get("/api/v1/zones/", {"state": "Disabled"}).json()["count"] == 1
    assert api.get("/api/v1/zones/", {"state": "Enabled"}).json()["count"] == 0
    assert api.delete(f"/api/v1/zones/{uuid}/").status_code == 204
    assert not Zone.objects.exists()
    kinds = list(Job.objects.order_by("created").values_list("kind", "state"))
    assert kinds == [("createZone", "succeeded"), ("updateZone", "succeeded"), ("deleteZone", "succeeded")]


def test_zone_name_required_and_unique(api):
    assert error(api.post("/api/v1/zones/", {}, format="json"), 400) == {
        "code": "required", "message": "This field is required.", "field": "name"}
    assert error(api.post("/api/v1/zones/", {"name": ""}, format="json"), 400)["field"] == "name"
    api.post("/api/v1/zones/", {"name": "ZONE1"}, format="json")
    assert error(api.post("/api/v1/zones/", {"name": "ZONE1"}, format="json"), 409) == {
        "code": "duplicate", "message": "Zone with this Name already exists.", "field": "name"}
    assert Zone.objects.count() == 1


def test_zone_state_must_be_a_known_state(api):
    err = error(api.post("/api/v1/zones/", {"name": "Z", "state": "Broken"}, format="json"), 400)
    assert err == {"code": "invalid_choice", "message": '"Broken" is not a valid choice.', "field": "state"}


def test_deleting_a_zone_with_clusters_is_refused_naming_them(api):
    cluster = make_cluster(name="CLUSTER1")
    err = error(api.delete(f"/api/v1/zones/{cluster.zone.uuid}/"), 409)
    assert err["code"] == "in_use"
    assert err["message"] == "Still used by cluster CLUSTER1"
    assert Zone.objects.filter(pk=cluster.zone.pk).exists()
    job = Job.objects.get(kind="deleteZone")
    assert job.state == "failed" and job.error == "Still used by cluster CLUSTER1"


def test_unknown_zone_is_404(api):
    assert error(api.get("/api/v1/zones/00000000-0000-0000-0000-000000000000/"), 404)["code"] == "not_found"
    assert error(api.get("/api/v1/zones/not-a-uuid/"), 404)["code"] == "not_found"


def test_cluster_validation(api):
    zone = make_zone()
    ok = api.post("/api/v1/clusters/", {"name": "CLUSTER1", "zone": str(zone.uuid), "hypervisor_type": "KVM"},
                  format="json")
    assert ok.status_code == 201 and ok.json()["zone_name"] == "ZONE1" and ok.json()["state"] == "Enabled"
    err = error(api.post("/api/v1/clusters/", {"name": "C", "zone": str(zone.uuid), "hypervisor_type": "Xen"},
                         format="json"), 400)
    assert err == {"code": "invalid_choice", "message": '"Xen" is not a valid choice.', "field": "hypervisor_type"}
    err = error(api.post("/api/v1/clusters/", {"name": "C", "zone": "00000000-0000-0000-0000-000000000000"},
                         format="json"), 400)
    assert err["field"] == "zone" and "does not exist" in err["message"]
    err = error(api.post("/api/v1/clusters/", {"name": "C"}, format="json"), 400)
    assert err == {"code": "required", "message": "This field is required.", "field": "zone"}
    err = error(api.post("/api/v1/clusters/", {"name": "CLUSTER1", "zone": str(zone.uuid)}, format="json"), 409)
    assert err["message"] == "Cluster with this Zone and Name already exists."
    # The same name in another zone is fine.
    other = make_zone(name="ZONE2")
    assert api.post("/api/v1/clusters/", {"name": "CLUSTER1", "zone": str(other.uuid)}, format="json").status_code == 201


def test_cluster_zone_and_hypervisor_cannot_change(api):
    cluster = make_cluster()
    other = make_zone(name="ZONE2")
    err = error(api.patch(f"/api/v1/clusters/{cluster.uuid}/", {"zone": str(other.uuid)}, format="json"), 400)
    assert err == {"code": "invalid", "message": "Zone cannot be changed.", "field": "zone"}
    err = error(api.patch(f"/api/v1/clusters/{cluster.uuid}/", {"hypervisor_type": "Sandbox"}, format="json"), 400)
    assert err["field"] == "hypervisor_type"
    assert api.patch(f"/api/v1/clusters/{cluster.uuid}/", {"state": "Disabled"}, format="json").status_code == 200
    assert Cluster.objects.get().state == "Disabled"


def test_cluster_filters(api):
    z1, z2 = make_zone(name="A"), make_zone(name="B")
    make_cluster(zone=z1, name="c1")
    make_cluster(zone=z2, name="c2", hypervisor_type="Sandbox")
    assert [c["name"] for c in api.get("/api/v1/clusters/", {"zone": str(z2.uuid)}).json()["results"]] == ["c2"]
    assert [c["name"] for c in api.get("/api/v1/clusters/", {"hypervisor_type": "KVM"}).json()["results"]] == ["c1"]
    assert api.get("/api/v1/clusters/", {"search": "c"}).json()["count"] == 2


def test_list_endpoints_keep_a_constant_number_of_queries(api, django_assert_max_num_queries):
    for i in range(30):
        make_cluster(zone=make_zone(name=f"Z{i}"), name=f"C{i}")
    # session + user + count + page: the same for 30 rows as for 1
    with django_assert_max_num_queries(4):
        assert api.get("/api/v1/clusters/").json()["count"] == 30
    with django_assert_max_num_queries(4):
        assert api.get("/api/v1/zones/").json()["count"] == 30


def test_pagination(api):
    for i in range(5):
        make_zone(name=f"Z{i}")
    page = api.get("/api/v1/zones/", {"limit": 2, "offset": 2}).json()
    assert page["count"] == 5 and [z["name"] for z in page["results"]] == ["Z2", "Z3"]
    assert page["next"] and page["previous"]


# --- Instance offerings -------------------------------------------------------------------------

def test_offering_memory_accepts_units_and_bytes(api):
    for memory, expected in [("512M", 512 * 1024**2), ("2G", 2 * 1024**3), (1073741824, 1024**3), ("64m", 64 * 1024**2)]:
        response = api.post("/api/v1/instance-offerings/", {"name": f"o-{expected}", "cpu_num": 1, "cpu_speed": 512,
                                                            "memory_size": memory}, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["memory_size"] == expected


@pytest.mark.parametrize(
    "payload, field, message",
    [
        ({"cpu_num": 0}, "cpu_num", "Ensure this value is greater than or equal to 1."),
        ({"cpu_num": 1025}, "cpu_num", "Ensure this value is less than or equal to 1024."),
        ({"cpu_num": "two"}, "cpu_num", "A valid integer is required."),
        ({"memory_size": "lots"}, "memory_size", "Enter a size such as 512M, 2G or a number of bytes, not 'lots'."),
        ({"memory_size": "1M"}, "memory_size", "Memory must be at least 16M."),
        ({"allocator_strategy": "Random"}, "allocator_strategy", '"Random" is not a valid choice.'),
        ({"cpu_speed": -1}, "cpu_speed", "Ensure this value is greater than or equal to 0."),
    ],
)
def test_offering_validation(api, payload, field, message):
    data = {"name": "512M-512HZ", "cpu_num": 1, "cpu_speed": 512, "memory_size": "512M", **payload}
    err = error(api.post("/api/v1/instance-offerings/", data, format="json"), 400)
    assert (err["field"], err["message"]) == (field, message)


def test_offering_name_unique(api):
    data = {"name": "512M-512HZ", "cpu_num": 1, "cpu_speed": 512, "memory_size": "512M"}
    assert api.post("/api/v1/instance-offerings/", data, format="json").status_code == 201
    assert error(api.post("/api/v1/instance-offerings/", data, format="json"), 409)["field"] == "name"


def test_delete_job_names_its_target(api):
    zone = make_zone(name="ZONE7")
    api.delete(f"/api/v1/zones/{zone.uuid}/")
    job = Job.objects.get(kind="deleteZone")
    assert (job.target_name, job.target_id, job.state) == ("ZONE7", str(zone.uuid), "succeeded")
