"""The cluster wizard (scenario 01 step 3): the cluster, primary storage and L2 networks, created at Finish."""

import pytest

from apps.core.models import Job
from apps.infra.models import Cluster
from apps.networks.models import L2Network
from apps.storage.models import PrimaryStorage
from tests.support.factories import make_zone

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
URL = "/portal/clusters/new/"


def test_add_cluster_opens_the_wizard_inside_the_portal(portal):
    response = portal.get("/infra/cluster/add/")
    assert response.status_code == 302 and response["Location"] == URL
    page = portal.get(URL).content.decode()
    assert 'data-step="cluster"' in page and 'name="hypervisor_type"' in page
    assert page.count("Create cluster</h1>") == 1 and 'id="nav-sidebar"' in page


def test_nothing_is_created_before_finish_and_empty_steps_are_skipped(portal, rq_queue):
    zone = make_zone()
    data = {"name": "CLUSTER1", "zone": zone.uuid, "hypervisor_type": "KVM"}
    step2 = portal.post(URL, {**data, "_to": "storage"}, **HX).content.decode()
    assert 'data-step="storage"' in step2 and "No primary storage in zone ZONE1 yet: this step is skipped." in step2
    step3 = portal.post(URL, {**data, "_to": "l2"}, **HX).content.decode()
    assert 'data-step="l2"' in step3 and "No L2 network in zone ZONE1 yet: this step is skipped." in step3
    assert not Cluster.objects.exists() and not Job.objects.exists()
    back = portal.post(URL, {**data, "_to": "cluster"}, **HX).content.decode()
    assert 'data-step="cluster"' in back and 'value="CLUSTER1"' in back
    done = portal.post(URL, {**data, "_to": "finish"}, **HX).content.decode()
    assert "Cluster CLUSTER1 is created" in done
    assert list(Job.objects.values_list("kind", flat=True)) == ["createCluster"]


def test_finish_attaches_what_was_chosen_each_as_its_own_job(portal, rq_queue, tmp_path):
    zone = make_zone()
    storage = PrimaryStorage.objects.create(zone=zone, name="PRIMARY-STORAGE1", type="LocalStorage",
                                            url=str(tmp_path / "ps"))
    l2 = L2Network.objects.create(zone=zone, name="FLAT-L2", type="L2NoVlanNetwork", physical_interface="eth0")
    data = {"name": "CLUSTER1", "zone": zone.uuid, "hypervisor_type": "KVM"}
    step3 = portal.post(URL, {**data, "primary_storages": [storage.uuid], "_to": "l2"}, **HX).content.decode()
    assert "FLAT-L2" in step3 and f'name="primary_storages" value="{storage.uuid}"' in step3
    done = portal.post(URL, {**data, "primary_storages": [storage.uuid], "l2_networks": [l2.uuid], "_to": "finish"},
                       **HX).content.decode()
    assert "attachPrimaryStorageToCluster started" in done and "Attached L2 networks: FLAT-L2." in done
    cluster = Cluster.objects.get()
    assert storage.attachments.filter(cluster=cluster).exists()
    assert l2.cluster_refs.filter(cluster=cluster).exists()
    kinds = sorted(Job.objects.values_list("kind", flat=True))
    assert kinds == ["attachL2NetworkToCluster", "attachPrimaryStorageToCluster", "createCluster"]


def test_a_refused_cluster_is_a_form_error_on_step_one(portal):
    zone = make_zone()
    Cluster.objects.create(name="CLUSTER1", zone=zone, hypervisor_type="KVM")
    again = portal.post(URL, {"name": "CLUSTER1", "zone": zone.uuid, "hypervisor_type": "KVM", "_to": "storage"},
                        **HX).content.decode()
    assert 'data-step="cluster"' in again and "Cluster with this Zone and Name already exists." in again
    assert Cluster.objects.count() == 1
