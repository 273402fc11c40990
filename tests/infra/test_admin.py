"""The portal (admin) goes through the same services: same rules, same words, never a 500."""

import pytest

from apps.compute.models import InstanceOffering
from apps.core.models import Job
from apps.infra.models import Zone
from tests.support.factories import make_cluster

pytestmark = pytest.mark.django_db


def test_adding_a_zone_in_the_portal_records_a_job(portal, user):
    response = portal.post("/infra/zone/add/", {"name": "ZONE1", "description": "", "state": "Enabled",
                                                "clusters-TOTAL_FORMS": 0, "clusters-INITIAL_FORMS": 0})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Zone.objects.get().name == "ZONE1"
    job = Job.objects.get()
    assert (job.kind, job.state, job.requested_by, job.target_name) == ("createZone", "succeeded", user, "ZONE1")


def test_a_duplicate_zone_is_a_form_error(portal):
    Zone.objects.create(name="ZONE1")
    response = portal.post("/infra/zone/add/", {"name": "ZONE1", "state": "Enabled",
                                                "clusters-TOTAL_FORMS": 0, "clusters-INITIAL_FORMS": 0})
    assert response.status_code == 200
    assert "Zone with this Name already exists." in response.content.decode()
    assert Zone.objects.count() == 1


def test_offering_memory_in_the_portal_accepts_512M_and_shows_it_back(portal):
    data = {"name": "512M-512HZ", "description": "", "cpu_num": 1, "cpu_speed": 512, "memory_size": "512M",
            "allocator_strategy": "DefaultHostAllocatorStrategy"}
    assert portal.post("/compute/instanceoffering/add/", data).status_code == 302
    offering = InstanceOffering.objects.get()
    assert offering.memory_size == 512 * 1024**2
    page = portal.get(f"/compute/instanceoffering/{offering.uuid}/change/").content.decode()
    assert 'value="512M"' in page
    bad = portal.post("/compute/instanceoffering/add/", {**data, "name": "x", "memory_size": "lots"})
    assert bad.status_code == 200
    assert "Enter a size such as 512M, 2G or a number of bytes, not &#x27;lots&#x27;." in bad.content.decode()
    assert "Memory must be at least 16M." in portal.post(
        "/compute/instanceoffering/add/", {**data, "name": "y", "memory_size": "1M"}).content.decode()


def test_deleting_a_zone_in_use_is_refused_in_the_portal(portal):
    cluster = make_cluster(name="CLUSTER1")
    response = portal.post(f"/infra/zone/{cluster.zone.uuid}/delete/", {"post": "yes"})
    assert response.status_code == 200
    assert "CLUSTER1" in response.content.decode()
    assert Zone.objects.filter(pk=cluster.zone.pk).exists()


def test_deleting_a_host_in_the_portal_says_a_job_deletes_it_and_opens_the_job(portal, rq_queue):
    from django.contrib.messages import get_messages

    from apps.infra.models import Host
    from tests.support.factories import make_host

    host = make_host()
    response = portal.post(f"/infra/host/{host.uuid}/delete/", {"post": "yes"})
    job = Job.objects.get(kind="deleteHost")
    assert response.status_code == 302 and response.url == f"/portal/jobs/{job.pk}/", response.url
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert shown == ["Host HOST1 is being deleted by a job (deleteHost): it is gone once the job succeeds; if the "
                     "job fails, this page says why."], shown
    assert Host.objects.filter(pk=host.pk).exists()  # not yet: the job forgets it
