"""Primary storage through the API: validation, add then attach (two jobs), capacity, detach, delete."""

import os

import pytest

from apps.core.models import Job
from apps.infra.models import Host
from apps.storage.models import PrimaryStorage
from tests.support.api import error
from tests.support.factories import make_cluster, make_primary_storage, make_zone
from workers.host.storage import capacity, mount_primary_storage, unmount_primary_storage

pytestmark = pytest.mark.django_db


def add(api, zone, **data):
    return api.post("/api/v1/primary-storages/", {"name": "PRIMARY-STORAGE1", "zone": str(zone.uuid), **data},
                    format="json")


@pytest.mark.parametrize("url, message", [
    ("nfs-server", "Enter an NFS URL as mount takes it: host:/path."),
    ("nfs://server/export", "Enter an NFS URL as mount takes it: host:/path."),
    ("server:relative", "Enter an NFS URL as mount takes it: host:/path."),
    ("bad host:/export", "Enter an NFS URL as mount takes it: host:/path."),
    ("server:/dev", "The exported path cannot be under /dev, /proc or /sys."),
    ("server:/proc/1", "The exported path cannot be under /dev, /proc or /sys."),
    ("server:/export/../sys/kernel", "The exported path cannot be under /dev, /proc or /sys."),
])
def test_nfs_url_validation(api, url, message):
    err = error(add(api, make_zone(), type="NFS", url=url), 400)
    assert err == {"code": "invalid", "message": message, "field": "url"}
    assert not PrimaryStorage.objects.exists()


@pytest.mark.parametrize("url, message", [
    ("relative/dir", "The directory must be an absolute path."),
    ("/sys/fs", "The directory cannot be under /dev, /proc or /sys."),
    ("/dev", "The directory cannot be under /dev, /proc or /sys."),
])
def test_local_directory_validation(api, url, message):
    err = error(add(api, make_zone(), type="LocalStorage", url=url), 400)
    assert err == {"code": "invalid", "message": message, "field": "url"}


def test_nfs_url_unique_per_zone(api):
    zone, other = make_zone(), make_zone(name="ZONE2")
    created = add(api, zone, type="NFS", url="192.0.2.10:/export/primary/")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["url"] == "192.0.2.10:/export/primary" and body["mount_point"].endswith(body["uuid"])
    assert body["total_capacity"] is None and body["clusters"] == []
    err = error(add(api, zone, type="NFS", url="192.0.2.10:/export/primary", name="PS2"), 409)
    assert err == {"code": "duplicate", "message": "Primary storage with this Zone and URL already exists.",
                   "field": None}
    assert add(api, other, type="NFS", url="192.0.2.10:/export/primary").status_code == 201
    assert add(api, zone, type="NFS", url="[2001:db8::1]:/export", name="PS6").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_add_then_attach_local_storage_two_jobs_and_capacity(api, jobs_inline, tmp_path):
    cluster = make_cluster()
    directory = tmp_path / "primary"
    created = add(api, cluster.zone, type="LocalStorage", url=str(directory))
    assert created.status_code == 201, created.content
    uuid = created.json()["uuid"]
    assert not directory.exists()  # adding only records it: attaching makes it usable
    response = api.post(f"/api/v1/primary-storages/{uuid}/attach/", {"cluster": str(cluster.uuid)}, format="json")
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["job"]["uuid"])
    assert job.state == "succeeded", job.error
    assert directory.is_dir()
    body = api.get(f"/api/v1/primary-storages/{uuid}/").json()
    expected = capacity(str(directory))
    assert body["clusters"] == [str(cluster.uuid)]
    assert body["total_capacity"] == expected["total"] and body["available_capacity"] > 0
    kinds = list(Job.objects.order_by("created").values_list("kind", "state"))
    assert kinds == [("addPrimaryStorage", "succeeded"), ("attachPrimaryStorageToCluster", "succeeded")]
    # Attached twice: refused. Deleting while attached: refused.
    err = error(api.post(f"/api/v1/primary-storages/{uuid}/attach/", {"cluster": str(cluster.uuid)}, format="json"),
                409)
    assert err["message"] == "Primary storage PRIMARY-STORAGE1 is already attached to cluster CLUSTER1."
    err = error(api.delete(f"/api/v1/primary-storages/{uuid}/"), 409)
    assert err == {"code": "in_use", "field": None,
                   "message": "Primary storage PRIMARY-STORAGE1 is attached to cluster CLUSTER1; detach it first."}
    # Detach (a job too), then delete.
    response = api.post(f"/api/v1/primary-storages/{uuid}/detach/", {"cluster": str(cluster.uuid)}, format="json")
    assert response.status_code == 202
    assert Job.objects.get(pk=response.json()["job"]["uuid"]).state == "succeeded"
    assert api.get(f"/api/v1/primary-storages/{uuid}/").json()["clusters"] == []
    assert api.delete(f"/api/v1/primary-storages/{uuid}/").status_code == 204
    assert directory.is_dir()  # the host's directory and what it holds are the operator's


@pytest.mark.django_db(transaction=True)
def test_attach_mounts_on_every_connected_host_only(api, jobs_inline, tmp_path, settings):
    settings.NIMBO_HOST_CALLS_INLINE = True  # the host's agent operation, run in this process
    cluster = make_cluster()
    Host.objects.create(cluster=cluster, name="HOST1", management_ip="192.0.2.1", status="Connected")
    Host.objects.create(cluster=cluster, name="HOST2", management_ip="192.0.2.2", status="Disconnected")
    storage = make_primary_storage(zone=cluster.zone, url=str(tmp_path / "ps"))
    response = api.post(f"/api/v1/primary-storages/{storage.uuid}/attach/", {"cluster": str(cluster.uuid)},
                        format="json")
    job = Job.objects.get(pk=response.json()["job"]["uuid"])
    assert job.state == "succeeded" and job.result["hosts"] == ["HOST1"]


def test_attach_refuses_a_cluster_of_another_zone(api, tmp_path):
    storage = make_primary_storage(url=str(tmp_path / "ps"))
    cluster = make_cluster(zone=make_zone(name="ZONE2"))
    err = error(api.post(f"/api/v1/primary-storages/{storage.uuid}/attach/", {"cluster": str(cluster.uuid)},
                         format="json"), 400)
    assert err == {"code": "invalid", "message": "Cluster CLUSTER1 is not in zone ZONE1.", "field": "cluster"}
    err = error(api.post(f"/api/v1/primary-storages/{storage.uuid}/detach/", {"cluster": str(cluster.uuid)},
                         format="json"), 409)
    assert err["message"] == "Primary storage PRIMARY-STORAGE1 is not attached to cluster CLUSTER1."


@pytest.mark.django_db(transaction=True)
def test_failed_mount_fails_the_attach_job_and_leaves_it_detached(api, jobs_inline, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cluster = make_cluster()
    storage = make_primary_storage(zone=cluster.zone, url=str(blocker / "ps"))
    response = api.post(f"/api/v1/primary-storages/{storage.uuid}/attach/", {"cluster": str(cluster.uuid)},
                        format="json")
    job = Job.objects.get(pk=response.json()["job"]["uuid"])
    assert job.state == "failed"
    assert job.error == f"On the management node: Cannot create directory {blocker / 'ps'}: Not a directory."
    assert not storage.attachments.exists()


# --- the host side, for real --------------------------------------------------------------------

def test_host_mount_of_local_storage_is_idempotent(tmp_path):
    spec = {"type": "LocalStorage", "url": str(tmp_path / "d"), "mount_point": str(tmp_path / "d")}
    first = mount_primary_storage(spec)
    assert first == mount_primary_storage(spec) | {"available": first["available"]}
    assert first["total"] == os.statvfs(tmp_path).f_blocks * os.statvfs(tmp_path).f_frsize
    assert unmount_primary_storage(spec) == {} and (tmp_path / "d").is_dir()


def test_a_host_connecting_later_mounts_the_storages_of_its_cluster(tmp_path, settings):
    settings.NIMBO_HOST_CALLS_INLINE = True
    from apps.storage.models import PrimaryStorageAttachment
    from apps.storage.services import mount_primary_storages_of_host

    cluster = make_cluster()
    storage = make_primary_storage(zone=cluster.zone, url=str(tmp_path / "ps"))
    PrimaryStorageAttachment.objects.create(primary_storage=storage, cluster=cluster)
    host = Host.objects.create(cluster=cluster, name="HOST3", management_ip="192.0.2.3", status="Connected")
    mount_primary_storages_of_host(host)
    storage.refresh_from_db()
    assert (tmp_path / "ps").is_dir()
    assert storage.total_capacity is None  # one host alone does not tell a local storage's total


@pytest.mark.django_db(transaction=True)
def test_reconnect_reads_capacity_again(api, jobs_inline, tmp_path):
    from apps.storage.models import PrimaryStorageAttachment

    cluster = make_cluster()
    storage = make_primary_storage(zone=cluster.zone, url=str(tmp_path / "ps"))
    err = error(api.post(f"/api/v1/primary-storages/{storage.uuid}/reconnect/"), 409)
    assert err["message"] == "Primary storage PRIMARY-STORAGE1 is not attached to any cluster."
    PrimaryStorageAttachment.objects.create(primary_storage=storage, cluster=cluster)
    job = Job.objects.get(pk=api.post(f"/api/v1/primary-storages/{storage.uuid}/reconnect/").json()["job"]["uuid"])
    assert job.state == "succeeded", job.error
    assert api.get(f"/api/v1/primary-storages/{storage.uuid}/").json()["total_capacity"] == \
        capacity(str(tmp_path))["total"]
