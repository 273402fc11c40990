"""Images on an SFTP backup storage (a real sshd in a test namespace): stored, deleted, and a
full backup storage that fails the job with nothing left on either side."""

import hashlib

import pytest
from django.conf import settings

from apps.core.crypto import encrypt
from apps.core.models import Job
from apps.images.models import Image
from apps.storage.models import BackupStorage
from tests.support.httpserve import make_qcow2
from tests.support.sshd import in_netns, sshd_in_namespace
from workers.host.sftp import ssh_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.root]  # sshd in a namespace, a tmpfs


@pytest.fixture(scope="module")
def sshd():
    with sshd_in_namespace() as server:
        yield server


@pytest.fixture(scope="module")
def disk(tmp_path_factory):
    return make_qcow2(tmp_path_factory.mktemp("img") / "disk.qcow2", data_mib=2)


def sftp_storage(sshd, folder, name="BACKUP-STORAGE1"):
    return BackupStorage.objects.create(name=name, type="SFTP", hostname=sshd.host, ssh_port=sshd.port,
                                        username="root", password_token=encrypt(sshd.password), folder=str(folder),
                                        status="Connected")


def remote_files(sshd, folder):
    with in_netns(sshd.client_ns), ssh_session({"hostname": sshd.host, "port": sshd.port, "username": "root",
                                                "password": sshd.password}) as client:
        _, out, _ = client.exec_command(f"find {folder} -type f")
        return sorted(out.read().decode().split())


def staging_files():
    staging = settings.VAR_DIR / "image-staging"
    return sorted(p.name for p in staging.iterdir()) if staging.exists() else []


def add(api, sshd, storage, disk):
    with in_netns(sshd.client_ns):
        response = api.post("/api/v1/images/", {
            "name": "zs-sample-image", "url": str(disk), "format": "qcow2", "media_type": "RootVolumeTemplate",
            "backup_storages": [str(storage.uuid)]}, format="json")
    assert response.status_code == 202, response.content
    return Job.objects.get(pk=response.json()["job"]["uuid"]), Image.objects.get(pk=response.json()["image"]["uuid"])


def test_image_stored_on_sftp_then_deleted_with_its_file(api, jobs_inline, sshd, disk):
    folder = sshd.workdir / "bs"
    job, image = add(api, sshd, sftp_storage(sshd, folder), disk)
    assert job.state == "succeeded", job.error
    stored = folder / "images" / f"{image.uuid}.qcow2"
    assert remote_files(sshd, folder) == [str(stored)]
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == hashlib.sha256(disk.read_bytes()).hexdigest()
    assert staging_files() == []
    with in_netns(sshd.client_ns):
        response = api.delete(f"/api/v1/images/{image.uuid}/")
    assert Job.objects.get(pk=response.json()["job"]["uuid"]).state == "succeeded"
    assert remote_files(sshd, folder) == [] and not Image.objects.exists()


def test_full_sftp_backup_storage_fails_the_job_and_leaves_nothing(api, jobs_inline, sshd, disk):
    folder = sshd.workdir / "small"
    job, image = add(api, sshd, sftp_storage(sshd, folder, name="BACKUP-SMALL"), disk)
    assert job.state == "failed"
    size = disk.stat().st_size
    assert job.error.startswith(f"Backup storage BACKUP-SMALL: Not enough space: the image needs {size} bytes, ")
    assert job.error.endswith(" are available.")
    assert remote_files(sshd, folder) == [] and staging_files() == []
    image.refresh_from_db()
    assert image.state == "Failed"
