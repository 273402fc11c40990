"""Images: validation, download jobs to a local backup storage and every way they can fail
(each failure's message asserted, nothing left on disk), System images, delete while in use."""

import hashlib
import subprocess

import pytest

from apps.core.exceptions import InvalidInput
from apps.core.models import Job
from apps.images.models import Image
from apps.images.services import check_image_for_user_vm
from apps.storage.models import Volume
from tests.support.api import error
from tests.support.factories import make_local_backup_storage, make_primary_storage
from tests.support.httpserve import http_server, make_qcow2


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A loopback HTTP server with a 2 MiB qcow2 and a raw file."""
    root = tmp_path_factory.mktemp("www")
    make_qcow2(root / "disk.qcow2")
    (root / "blob.raw").write_bytes(b"\0" * 65536)
    with http_server(root) as base:
        yield base, root


def add(api, storage, url, **extra):
    data = {"name": "zs-sample-image", "url": url, "format": "qcow2", "media_type": "RootVolumeTemplate",
            "platform": "Linux", "backup_storages": [str(storage.uuid)], **extra}
    return api.post("/api/v1/images/", data, format="json")


def run_add(api, storage, url, **extra):
    response = add(api, storage, url, **extra)
    assert response.status_code == 202, response.content
    return Job.objects.get(pk=response.json()["job"]["uuid"]), Image.objects.get(pk=response.json()["image"]["uuid"])


def files_in(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["ftp://example.org/a.qcow2", "relative/a.qcow2", "", "http://", "file://host/a",
                                 "smb://server/share"])
def test_url_schemes(api, tmp_path, url):
    err = error(add(api, make_local_backup_storage(folder=str(tmp_path)), url), 400)
    assert err["field"] == "url"
    assert err["message"] in ("Enter an http://, https:// or file:/// URL, or an absolute path.",
                              "This field may not be blank.")
    assert not Image.objects.exists()


@pytest.mark.django_db
def test_image_field_rules(api, tmp_path):
    storage = make_local_backup_storage(folder=str(tmp_path))
    err = error(add(api, storage, f"{tmp_path}/a.iso", format="iso"), 400)
    assert err == {"code": "invalid", "message": "An iso image must have media type ISO.", "field": "media_type"}
    err = error(add(api, storage, f"{tmp_path}/a.qcow2", backup_storages=[]), 400)
    assert err == {"code": "invalid", "message": "Choose at least one backup storage.", "field": "backup_storages"}
    storage.status = "Disconnected"
    storage.save()
    err = error(add(api, storage, f"{tmp_path}/a.qcow2"), 400)
    assert err["message"] == "Backup storage BACKUP-STORAGE1 is not connected and enabled."
    assert not Image.objects.exists() and not Job.objects.filter(kind="addImage").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("scheme", ["http", "file", "path"])
def test_add_image_to_local_backup_storage(api, jobs_inline, tmp_path, served, scheme):
    base, root = served
    url = {"http": f"{base}/disk.qcow2", "file": f"file://{root}/disk.qcow2", "path": str(root / "disk.qcow2")}[scheme]
    folder = tmp_path / "bs"
    storage = make_local_backup_storage(folder=str(folder))
    job, image = run_add(api, storage, url)
    assert job.state == "succeeded", job.error
    expected = hashlib.sha256((root / "disk.qcow2").read_bytes()).hexdigest()
    assert image.state == "Ready" and image.sha256 == expected
    assert image.actual_size == (root / "disk.qcow2").stat().st_size and image.virtual_size == 64 * 1024**2
    assert files_in(folder) == [f"images/{image.uuid}.qcow2"]
    assert hashlib.sha256((folder / f"images/{image.uuid}.qcow2").read_bytes()).hexdigest() == expected
    assert [s["name"] for s in job.steps] == [f"Download {url}", "Verify the image with qemu-img",
                                              "Store on backup storage BACKUP-STORAGE1"]
    assert job.result["bytes_done"] == job.result["bytes_total"] == image.actual_size
    copy = api.get(f"/api/v1/images/{image.uuid}/").json()["copies"][0]
    assert copy["state"] == "Ready" and copy["install_path"] == str(folder / f"images/{image.uuid}.qcow2")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", ["refused", "404", "missing_file", "wrong_format", "raw_as_qcow2", "not_an_image"])
def test_failed_download_says_why_and_leaves_nothing(api, jobs_inline, tmp_path, served, case):
    base, root = served
    (tmp_path / "text.iso").write_text("hello")
    url, fmt, message = {
        "refused": ("http://127.0.0.1:9/disk.qcow2", "qcow2",
                    "Cannot download http://127.0.0.1:9/disk.qcow2: Connection refused."),
        "404": (f"{base}/nope.qcow2", "qcow2", f"Cannot download {base}/nope.qcow2: HTTP 404 File not found."),
        "missing_file": (f"{tmp_path}/nonexistent/disk.qcow2", "qcow2",
                         f"Cannot read {tmp_path}/nonexistent/disk.qcow2: No such file or directory."),
        "wrong_format": (f"{base}/disk.qcow2", "raw", "The image is qcow2, not raw as declared."),
        "raw_as_qcow2": (f"{base}/blob.raw", "qcow2", "The image is raw, not qcow2 as declared."),
        "not_an_image": (f"file://{tmp_path}/text.iso", "qcow2", "The image is raw, not qcow2 as declared."),
    }[case]
    folder = tmp_path / "bs"
    storage = make_local_backup_storage(folder=str(folder))
    job, image = run_add(api, storage, url, format=fmt)
    assert job.state == "failed"
    assert job.error == message
    image.refresh_from_db()
    assert image.state == "Failed" and image.copies.get().error == message
    assert files_in(folder) == []


@pytest.mark.root  # a small tmpfs
@pytest.mark.django_db(transaction=True)
def test_full_backup_storage_fails_the_download_and_leaves_nothing(api, jobs_inline, tmp_path, served):
    base, _ = served
    folder = tmp_path / "small"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "nimbo-test", str(folder)], check=True)
    try:
        storage = make_local_backup_storage(folder=str(folder))
        job, image = run_add(api, storage, f"{base}/disk.qcow2")
        assert job.state == "failed"
        assert job.error.startswith(f"Not enough space on backup storage BACKUP-STORAGE1 for {base}/disk.qcow2 (")
        assert files_in(folder) == []
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.mark.django_db
def test_system_image_cannot_be_used_for_a_user_vm():
    image = Image.objects.create(name="VIRTUAL-ROUTER", url="/srv/vr.qcow2", system=True, state="Ready")
    with pytest.raises(InvalidInput) as raised:
        check_image_for_user_vm(image)
    assert raised.value.field == "image"
    assert raised.value.message == ("Image VIRTUAL-ROUTER is a System image, for appliances only; it cannot be used "
                                    "for a user VM.")
    image.system, image.state = False, "Downloading"
    with pytest.raises(InvalidInput, match=r"^Image VIRTUAL-ROUTER is not ready \(Downloading\)\.$"):
        check_image_for_user_vm(image)
    image.state = "Ready"
    check_image_for_user_vm(image)


@pytest.mark.django_db(transaction=True)
def test_image_in_use_cannot_be_deleted_then_is_deleted_with_its_files(api, jobs_inline, tmp_path, served):
    base, _ = served
    folder = tmp_path / "bs"
    job, image = run_add(api, make_local_backup_storage(folder=str(folder)), f"{base}/disk.qcow2")
    volume = Volume.objects.create(name="root", type="Root", image=image, primary_storage=make_primary_storage(
        url=str(tmp_path / "ps")))
    err = error(api.delete(f"/api/v1/images/{image.uuid}/"), 409)
    assert err == {"code": "in_use", "message": "Image zs-sample-image is in use by volume root.", "field": None}
    assert files_in(folder) == [f"images/{image.uuid}.qcow2"]
    volume.delete()
    response = api.delete(f"/api/v1/images/{image.uuid}/")
    assert response.status_code == 202
    assert Job.objects.get(pk=response.json()["job"]["uuid"]).state == "succeeded"
    assert not Image.objects.exists() and files_in(folder) == []


@pytest.mark.django_db
def test_update_keeps_url_and_format(api, tmp_path):
    image = Image.objects.create(name="img", url="/srv/a.qcow2", state="Ready")
    response = api.patch(f"/api/v1/images/{image.uuid}/", {"url": "/srv/b.qcow2", "system": True}, format="json")
    assert response.status_code == 200
    assert response.json()["url"] == "/srv/a.qcow2" and response.json()["system"] is True


@pytest.mark.django_db
def test_image_used_by_a_vm_or_still_downloading_cannot_be_deleted(api):
    from tests.support.factories import make_vm

    image = Image.objects.create(name="zs-sample-image", url="/srv/a.qcow2", state="Ready")
    make_vm(name="INNER-VM", image=image)
    err = error(api.delete(f"/api/v1/images/{image.uuid}/"), 409)
    assert err == {"code": "in_use", "message": "Image zs-sample-image is in use by VM INNER-VM.", "field": None}
    downloading = Image.objects.create(name="VIRTUAL-ROUTER", url="/srv/vr.qcow2", system=True)
    err = error(api.delete(f"/api/v1/images/{downloading.uuid}/"), 409)
    assert err == {"code": "conflict", "field": None,
                   "message": "Image VIRTUAL-ROUTER is still downloading; delete it once the download has ended."}
    assert Image.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_admin_adds_an_image_through_the_same_job(user, jobs_inline, tmp_path, served):
    from django.test import Client

    base, root = served
    storage = make_local_backup_storage(folder=str(tmp_path / "bs"))
    client = Client()
    client.force_login(user)
    response = client.post("/images/image/add/", {
        "name": "zs-sample-image", "description": "", "url": f"{base}/disk.qcow2", "format": "qcow2",
        "media_type": "RootVolumeTemplate", "platform": "Linux", "backup_storages": [storage.pk],
        "copies-TOTAL_FORMS": 0, "copies-INITIAL_FORMS": 0, "caches-TOTAL_FORMS": 0, "caches-INITIAL_FORMS": 0})
    assert response.status_code == 302, response.content.decode()[:3000]
    image = Image.objects.get()
    assert image.state == "Ready" and Job.objects.get(kind="addImage").state == "succeeded"
    page = client.get(f"/images/image/{image.pk}/change/").content.decode()
    assert image.sha256 in page and str(tmp_path / "bs") in page
