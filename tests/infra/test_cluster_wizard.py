"""The cluster wizard (scenario 01 step 3): create, then offer primary storage and L2 networks, or skip."""

import pytest

from apps.core.models import Job
from apps.infra.models import Cluster
from apps.networks.models import L2Network
from apps.storage.models import PrimaryStorage
from tests.support.factories import make_zone

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def portal(client, user):
    client.force_login(user)
    return client


def test_add_cluster_opens_the_wizard(portal):
    response = portal.get("/infra/cluster/add/")
    assert response.status_code == 302 and response["Location"] == "/portal/clusters/new/"
    page = portal.get("/portal/clusters/new/").content.decode()
    assert 'data-step="cluster"' in page and 'name="hypervisor_type"' in page


def test_with_nothing_in_the_zone_both_steps_are_skipped(portal, rq_queue):
    zone = make_zone()
    step2 = portal.post("/portal/clusters/new/", {"name": "CLUSTER1", "zone": zone.uuid, "hypervisor_type": "KVM"},
                        **HX).content.decode()
    cluster = Cluster.objects.get(name="CLUSTER1")
    assert 'data-step="storage"' in step2 and "No primary storage in zone ZONE1 yet: this step is skipped." in step2
    step3 = portal.post(f"/portal/clusters/{cluster.uuid}/new/storage/", {}, **HX).content.decode()
    assert 'data-step="l2"' in step3 and "No L2 network in zone ZONE1 yet: this step is skipped." in step3
    done = portal.post(f"/portal/clusters/{cluster.uuid}/new/l2/", {}, **HX).content.decode()
    assert "Cluster CLUSTER1 is ready" in done
    assert list(Job.objects.values_list("kind", flat=True)) == ["createCluster"]


def test_wizard_attaches_what_is_chosen_each_as_its_own_job(portal, rq_queue, tmp_path):
    zone = make_zone()
    storage = PrimaryStorage.objects.create(zone=zone, name="PRIMARY-STORAGE1", type="LocalStorage",
                                            url=str(tmp_path / "ps"))
    l2 = L2Network.objects.create(zone=zone, name="FLAT-L2", type="L2NoVlanNetwork", physical_interface="eth0")
    portal.post("/portal/clusters/new/", {"name": "CLUSTER1", "zone": zone.uuid, "hypervisor_type": "KVM"}, **HX)
    cluster = Cluster.objects.get()
    step3 = portal.post(f"/portal/clusters/{cluster.uuid}/new/storage/", {"primary_storages": [storage.uuid]},
                        **HX).content.decode()
    assert "attachPrimaryStorageToCluster started" in step3 and "FLAT-L2" in step3
    done = portal.post(f"/portal/clusters/{cluster.uuid}/new/l2/", {"l2_networks": [l2.uuid]}, **HX).content.decode()
    assert "Attached L2 networks: FLAT-L2." in done
    assert storage.attachments.filter(cluster=cluster).exists()
    assert l2.cluster_refs.filter(cluster=cluster).exists()
    kinds = sorted(Job.objects.values_list("kind", flat=True))
    assert kinds == ["attachL2NetworkToCluster", "attachPrimaryStorageToCluster", "createCluster"]


def test_a_refused_cluster_is_a_form_error(portal):
    zone = make_zone()
    portal.post("/portal/clusters/new/", {"name": "CLUSTER1", "zone": zone.uuid, "hypervisor_type": "KVM"}, **HX)
    again = portal.post("/portal/clusters/new/", {"name": "CLUSTER1", "zone": zone.uuid, "hypervisor_type": "KVM"},
                        **HX).content.decode()
    assert 'data-step="cluster"' in again and "Cluster with this Zone and Name already exists." in again
    assert Cluster.objects.count() == 1
