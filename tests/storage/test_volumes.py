"""Volumes: data volumes through the API (jobs), root volumes as overlays on the image cache,
and the failures that leave nothing behind."""

import json
import subprocess

import pytest

from apps.core.exceptions import InvalidInput, JobFailed
from apps.core.jobs import start_job
from apps.core.models import Job
from apps.images.models import Image, ImageBackupStorageRef, ImageCache
from apps.storage.models import PrimaryStorageAttachment, Volume
from apps.storage.volumes import create_root_volume, ensure_image_cached
from tests.support.api import error
from tests.support.factories import make_cluster, make_local_backup_storage, make_primary_storage
from tests.support.httpserve import make_qcow2


@pytest.fixture
def attached(tmp_path, db):
    cluster = make_cluster()
    storage = make_primary_storage(zone=cluster.zone, url=str(tmp_path / "ps"))
    PrimaryStorageAttachment.objects.create(primary_storage=storage, cluster=cluster)
    return storage


def ready_image(tmp_path, fmt="qcow2"):
    backup = make_local_backup_storage(folder=str(tmp_path / "bs"))
    image = Image.objects.create(name="zs-sample-image", url="/srv/x", format=fmt, state="Ready",
                                 virtual_size=64 * 1024**2)
    path = backup.image_path(image)
    (tmp_path / "bs" / "images").mkdir(parents=True)
    if fmt == "qcow2":
        make_qcow2(path, data_mib=1)
    else:
        with open(path, "wb") as f:
            f.truncate(8 * 1024**2)
    ImageBackupStorageRef.objects.create(image=image, backup_storage=backup, state="Ready", install_path=path)
    return image


def info(path):
    return json.loads(subprocess.run(["qemu-img", "info", "--output=json", path], capture_output=True, check=True,
                                     text=True).stdout)


@pytest.mark.django_db(transaction=True)
def test_data_volume_create_and_delete_are_jobs(api, jobs_inline, attached):
    response = api.post("/api/v1/volumes/", {"name": "DATA1", "primary_storage": str(attached.uuid), "size": "1G"},
                        format="json")
    assert response.status_code == 202, response.content
    assert Job.objects.get(pk=response.json()["job"]["uuid"]).state == "succeeded"
    volume = api.get(f"/api/v1/volumes/{response.json()['volume']['uuid']}/").json()
    assert volume["state"] == "Ready" and volume["type"] == "Data" and volume["size"] == 1024**3
    assert info(volume["install_path"])["virtual-size"] == 1024**3
    deleted = api.delete(f"/api/v1/volumes/{volume['uuid']}/")
    assert deleted.status_code == 202 and Job.objects.get(pk=deleted.json()["job"]["uuid"]).state == "succeeded"
    assert not Volume.objects.exists()
    assert not subprocess.run(["test", "-e", volume["install_path"]]).returncode == 0


@pytest.mark.django_db
def test_data_volume_validation(api, attached, tmp_path):
    err = error(api.post("/api/v1/volumes/", {"name": "D", "primary_storage": str(attached.uuid), "size": "512K"},
                         format="json"), 400)
    assert err == {"code": "invalid", "message": "A data volume must be at least 1M.", "field": "size"}
    loose = make_primary_storage(zone=attached.zone, name="PS2", url=str(tmp_path / "ps2"))
    err = error(api.post("/api/v1/volumes/", {"name": "D", "primary_storage": str(loose.uuid), "size": "1G"},
                         format="json"), 400)
    assert err == {"code": "invalid", "message": "Primary storage PS2 is not attached to any cluster.",
                   "field": "primary_storage"}
    assert not Volume.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_first_volume_caches_the_image_in_a_job_step_with_progress(attached, tmp_path, jobs_inline):
    image = ready_image(tmp_path)
    job = start_job("createVmInstance", "tests.storage.handlers.root_volume",
                    params={"image": str(image.pk), "primary_storage": str(attached.pk)})
    job.refresh_from_db()
    assert job.state == "succeeded", job.error
    assert [s["name"] for s in job.steps] == [f"Copy image zs-sample-image to the cache of {attached.name}",
                                              "Create root volume ROOT"]
    assert job.result["cache_bytes"] == job.result["cache_total"] > 0
    cache = ImageCache.objects.get()
    volume = Volume.objects.get()
    assert info(volume.install_path)["backing-filename"] == cache.install_path
    # The second volume does not copy again.
    again = start_job("createVmInstance", "tests.storage.handlers.root_volume",
                      params={"image": str(image.pk), "primary_storage": str(attached.pk), "name": "ROOT2"})
    again.refresh_from_db()
    assert [s["name"] for s in again.steps] == ["Create root volume ROOT2"]


@pytest.mark.django_db
def test_raw_image_is_cached_as_qcow2(attached, tmp_path):
    image = ready_image(tmp_path, fmt="raw")
    volume = create_root_volume(image, attached, "ROOT")
    cache = ImageCache.objects.get()
    assert info(cache.install_path)["format"] == "qcow2"
    assert info(volume.install_path)["backing-filename-format"] == "qcow2"


@pytest.mark.django_db
def test_caching_failures_leave_nothing(attached, tmp_path):
    image = ready_image(tmp_path)
    copy = image.copies.get()
    (tmp_path / "bs" / "images" / f"{image.uuid}.qcow2").unlink()
    with pytest.raises(JobFailed) as raised:
        create_root_volume(image, attached, "ROOT")
    assert raised.value.message == ("On the management node: Cannot cache the image: No such file or directory.")
    assert not ImageCache.objects.exists() and not Volume.objects.exists()
    assert not any(p.is_file() for p in (tmp_path / "ps").rglob("*"))
    copy.state = "Failed"
    copy.save()
    with pytest.raises(JobFailed, match="^Image zs-sample-image has no ready copy on any backup storage.$"):
        ensure_image_cached(image, attached)
    image.state = "Downloading"
    with pytest.raises(InvalidInput, match=r"^Image zs-sample-image is not ready \(Downloading\).$"):
        ensure_image_cached(image, attached)


@pytest.mark.django_db
def test_root_volume_can_be_larger_than_its_image_never_smaller(attached, tmp_path):
    image = ready_image(tmp_path)
    volume = create_root_volume(image, attached, "BIG", size=128 * 1024**2)
    assert volume.size == 128 * 1024**2 and info(volume.install_path)["virtual-size"] == 128 * 1024**2
    with pytest.raises(InvalidInput, match=r"^A root volume cannot be smaller than its image \(67108864 bytes\)\.$"):
        create_root_volume(image, attached, "SMALL", size=32 * 1024**2)
    assert Volume.objects.count() == 1


@pytest.mark.django_db
def test_two_vms_of_one_image_started_back_to_back_share_one_copy(attached, tmp_path, monkeypatch):
    """VM A's job made the cache row and its host call is copying; VM B's job, right behind, waits for
    that copy and gets the Ready cache: one copy, no shared .part file, nothing else left behind."""
    import threading
    import time

    from workers.host import storage as host_storage

    image = ready_image(tmp_path)
    fetches, real_fetch = [], host_storage._fetch
    copying = threading.Event()

    def slow_fetch(source, dest, progress):
        fetches.append(dest)
        copying.set()
        time.sleep(0.5)  # B arrives while A still copies
        return real_fetch(source, dest, progress)

    monkeypatch.setattr(host_storage, "_fetch", slow_fetch)
    path = attached.cache_path(image)
    ImageCache.objects.create(image=image, primary_storage=attached, install_path=path)  # A's row
    spec = {"source": {"type": "local", "path": image.copies.get().install_path}, "format": "qcow2", "path": path}
    a_result = {}
    a_call = threading.Thread(target=lambda: a_result.update(host_storage.cache_image(spec)))
    a_call.start()
    assert copying.wait(10)
    cache = ensure_image_cached(image, attached)  # B
    a_call.join(10)
    assert a_result["path"] == path == cache.install_path
    assert len(fetches) == 1
    assert cache.state == "Ready" and ImageCache.objects.get().pk == cache.pk
    assert info(path)["format"] == "qcow2"
    assert [p.name for p in (tmp_path / "ps" / "imagecache").iterdir()] == [f"{image.uuid}.qcow2"]


@pytest.mark.django_db
def test_a_waiting_vm_whose_copy_fails_leaves_the_cache_row_to_the_job_that_made_it(attached, tmp_path):
    image = ready_image(tmp_path)
    theirs = ImageCache.objects.create(image=image, primary_storage=attached, install_path=attached.cache_path(image))
    (tmp_path / "bs" / "images" / f"{image.uuid}.qcow2").unlink()
    with pytest.raises(JobFailed):
        ensure_image_cached(image, attached)
    assert ImageCache.objects.get().pk == theirs.pk
