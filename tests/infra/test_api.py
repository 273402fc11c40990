"""Zones, clusters and instance offerings through the API: every validation rule, with its error body."""

import pytest

from apps.compute.models import InstanceOffering
from apps.core.models import Job
from apps.infra.models import Cluster, Zone
from tests.support.api import error
from tests.support.factories import make_cluster, make_offering, make_zone
from tests.support.resources import ResourceAPITests

pytestmark = pytest.mark.django_db


class TestZoneAPI(ResourceAPITests):
    url = "/api/v1/zones/"
    model = Zone
    kind = "Zone"
    create_data = {"name": "ZONE1", "description": "first"}
    create_expected = {"name": "ZONE1", "description": "first", "state": "Enabled", "cluster_count": 0}
    update_data = {"state": "Disabled", "description": "closed"}
    duplicate_error = {"code": "duplicate", "message": "Zone with this Name already exists.", "field": "name"}
    required_error = {"code": "required", "message": "This field is required.", "field": "name"}
    list_queries = 4  # session, user, count, page

    def make(self, i):
        return make_zone(name=f"ZONE{i}", state="Disabled" if i == 2 else "Enabled")

    def filters(self):
        for i in range(3):
            self.make(i)
        return [({"state": "Disabled"}, ["ZONE2"]), ({"state": "Enabled"}, ["ZONE0", "ZONE1"]),
                ({"search": "ZONE1"}, ["ZONE1"])]


def test_zone_name_cannot_be_blank(api):
    assert error(api.post("/api/v1/zones/", {"name": ""}, format="json"), 400) == {
        "code": "blank", "message": "This field may not be blank.", "field": "name"}


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


class TestClusterAPI(ResourceAPITests):
    url = "/api/v1/clusters/"
    model = Cluster
    kind = "Cluster"
    create_expected = {"name": "CLUSTER1", "zone_name": "ZONE1", "state": "Enabled", "hypervisor_type": "KVM"}
    update_data = {"state": "Disabled", "description": "maintenance"}
    frozen_fields = {"zone": (lambda self: str(make_zone(name="ZONE2").uuid), "Zone cannot be changed."),
                     "hypervisor_type": ("Sandbox", "Hypervisor type cannot be changed.")}
    duplicate_error = {"code": "duplicate", "message": "Cluster with this Zone and Name already exists.",
                       "field": None}
    required_error = {"code": "required", "message": "This field is required.", "field": "name"}
    list_queries = 4  # session, user, count, page (zones joined)

    def create_data(self):
        return {"name": "CLUSTER1", "zone": str(make_zone().uuid), "hypervisor_type": "KVM"}

    def make(self, i):
        return make_cluster(zone=make_zone(name=f"Z{i}"), name=f"c{i}", hypervisor_type="Sandbox" if i else "KVM")

    def filters(self):
        clusters = [self.make(i) for i in range(2)]
        return [({"zone": str(clusters[1].zone.uuid)}, ["c1"]), ({"hypervisor_type": "KVM"}, ["c0"]),
                ({"search": "c"}, ["c0", "c1"])]


def test_cluster_validation(api):
    zone = make_zone()
    assert api.post("/api/v1/clusters/", {"name": "CLUSTER1", "zone": str(zone.uuid)}, format="json").status_code == 201
    err = error(api.post("/api/v1/clusters/", {"name": "C", "zone": str(zone.uuid), "hypervisor_type": "Xen"},
                         format="json"), 400)
    assert err == {"code": "invalid_choice", "message": '"Xen" is not a valid choice.', "field": "hypervisor_type"}
    err = error(api.post("/api/v1/clusters/", {"name": "C", "zone": "00000000-0000-0000-0000-000000000000"},
                         format="json"), 400)
    assert err == {"code": "not_found", "field": "zone",
                   "message": "zone 00000000-0000-0000-0000-000000000000 not found."}
    err = error(api.post("/api/v1/clusters/", {"name": "C"}, format="json"), 400)
    assert err == {"code": "required", "message": "This field is required.", "field": "zone"}
    # The same name in another zone is fine.
    other = make_zone(name="ZONE2")
    other_zone = api.post("/api/v1/clusters/", {"name": "CLUSTER1", "zone": str(other.uuid)}, format="json")
    assert other_zone.status_code == 201


def test_pagination(api):
    for i in range(5):
        make_zone(name=f"Z{i}")
    page = api.get("/api/v1/zones/", {"limit": 2, "offset": 2}).json()
    assert page["count"] == 5 and [z["name"] for z in page["results"]] == ["Z2", "Z3"]
    assert page["next"] and page["previous"]


# --- Instance offerings -------------------------------------------------------------------------


class TestInstanceOfferingAPI(ResourceAPITests):
    url = "/api/v1/instance-offerings/"
    model = InstanceOffering
    kind = "InstanceOffering"
    create_data = {"name": "512M-512HZ", "cpu_num": 1, "cpu_speed": 512, "memory_size": "512M"}
    create_expected = {"name": "512M-512HZ", "cpu_num": 1, "cpu_speed": 512, "memory_size": 512 * 1024**2}
    update_data = {"description": "small"}
    duplicate_error = {"code": "duplicate", "message": "Instance offering with this Name already exists.",
                       "field": "name"}
    required_error = {"code": "required", "message": "This field is required.", "field": "name"}
    list_queries = 4

    def make(self, i):
        return make_offering(name=f"OFFERING{i}", cpu_num=i + 1)


def test_offering_memory_accepts_units_and_bytes(api):
    for memory, expected in [("512M", 512 * 1024**2), ("2G", 2 * 1024**3), (1073741824, 1024**3),
                             ("64m", 64 * 1024**2)]:
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
