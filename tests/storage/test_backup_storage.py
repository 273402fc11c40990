"""Backup storage: added by a job that logs in over real SSH (OpenSSH in a test namespace),
checks the folder and reads its capacity; credentials stored encrypted, never shown back."""

import json

import pytest
from django.test import Client

from apps.core.crypto import decrypt, encrypt
from apps.core.models import Job
from apps.storage.models import BackupStorage
from tests.support.api import error
from tests.support.factories import make_local_backup_storage, make_zone
from tests.support.sshd import in_netns, sshd_in_namespace


@pytest.fixture(scope="module")
def sshd():
    with sshd_in_namespace() as server:
        yield server


def sftp_data(sshd, folder, **extra):
    return {"name": "BACKUP-STORAGE1", "type": "SFTP", "hostname": sshd.host, "ssh_port": sshd.port,
            "username": "root", "password": sshd.password, "folder": str(folder), **extra}


def add_and_run(api, sshd, data):
    with in_netns(sshd.client_ns):
        response = api.post("/api/v1/backup-storages/", data, format="json")
    assert response.status_code == 202, response.content
    return response.json(), Job.objects.get(pk=response.json()["job"]["uuid"])


@pytest.mark.root
@pytest.mark.django_db(transaction=True)
def test_add_sftp_backup_storage_with_password(api, jobs_inline, sshd):
    folder = sshd.workdir / "backupStorage"
    body, job = add_and_run(api, sshd, sftp_data(sshd, folder))
    assert job.kind == "addBackupStorage" and job.state == "succeeded", job.error
    assert [s["name"] for s in job.steps] == [f"Connect to {sshd.host}", f"Check folder {folder}"]
    assert folder.is_dir()
    assert "password" not in body["backup_storage"] and body["backup_storage"]["password_set"] is True
    stored = api.get(f"/api/v1/backup-storages/{job.target_id}/").json()
    assert stored["status"] == "Connected" and stored["total_capacity"] > stored["available_capacity"] > 0
    assert stored["password_set"] is True and stored["private_key_set"] is False
    listing = json.dumps(api.get("/api/v1/backup-storages/").json())
    assert sshd.password not in listing and "password\"" not in listing.replace("password_set\"", "")
    row = BackupStorage.objects.get()
    assert sshd.password not in row.password_token and decrypt(row.password_token) == sshd.password
    # Attach to a zone, as in the scenario; twice is refused.
    zone = make_zone()
    attached = api.post(f"/api/v1/backup-storages/{row.uuid}/attach/", {"zone": str(zone.uuid)}, format="json")
    assert attached.status_code == 200 and attached.json()["zones"] == [str(zone.uuid)]
    err = error(api.post(f"/api/v1/backup-storages/{row.uuid}/attach/", {"zone": str(zone.uuid)}, format="json"), 409)
    assert err["message"] == "Backup storage BACKUP-STORAGE1 is already attached to zone ZONE1."
    detached = api.post(f"/api/v1/backup-storages/{row.uuid}/detach/", {"zone": str(zone.uuid)}, format="json")
    assert detached.json()["zones"] == []


@pytest.mark.root
@pytest.mark.django_db(transaction=True)
def test_add_sftp_backup_storage_with_private_key(api, jobs_inline, sshd):
    data = sftp_data(sshd, sshd.workdir / "keyed", password="", private_key=sshd.private_key)
    body, job = add_and_run(api, sshd, data)
    assert job.state == "succeeded", job.error
    assert body["backup_storage"]["private_key_set"] is True and "private_key" not in body["backup_storage"]
    assert "PRIVATE KEY" not in json.dumps(api.get(f"/api/v1/backup-storages/{job.target_id}/").json())


@pytest.mark.root
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change, message", [
    ({"password": "wrong-password"}, "SSH login to root@{host}:{port} was refused: wrong username, password or key."),
    ({"ssh_port": "other"}, "Cannot connect to root@{host}:{other}: Unable to connect to port {other} on {host}."),
    ({"folder": "/etc/hostname/backup"}, "Folder /etc/hostname/backup cannot be used: mkdir: cannot create directory "
                                         "'/etc/hostname': Not a directory."),
])
def test_failed_add_fails_the_job_with_its_reason_and_adds_nothing(api, jobs_inline, sshd, change, message):
    other = sshd.port + 1
    if change.get("ssh_port") == "other":
        change = {"ssh_port": other}
    folder = change.pop("folder", sshd.workdir / "failing")
    body, job = add_and_run(api, sshd, sftp_data(sshd, folder, **change))
    assert job.state == "failed"
    assert job.error == message.format(host=sshd.host, port=sshd.port, other=other)
    assert not BackupStorage.objects.exists()
    assert job.message == f"addBackupStorage failed: {job.error}"


@pytest.mark.django_db(transaction=True)
def test_add_local_backup_storage(api, jobs_inline, tmp_path):
    response = api.post("/api/v1/backup-storages/", {"name": "LOCAL-BS", "type": "Local",
                                                     "folder": str(tmp_path / "bs")}, format="json")
    job = Job.objects.get(pk=response.json()["job"]["uuid"])
    assert job.state == "succeeded", job.error
    assert (tmp_path / "bs").is_dir() and BackupStorage.objects.get().total_capacity > 0


@pytest.mark.django_db
@pytest.mark.parametrize("data, field, message", [
    ({"type": "SFTP", "hostname": "", "password": "x"}, "hostname", "An SFTP backup storage needs a hostname."),
    ({"type": "SFTP", "hostname": "bad host", "password": "x"}, "hostname", "Enter a host name or an IP address."),
    ({"type": "SFTP", "hostname": "192.0.2.1"}, "password", "Enter a password or a private key."),
    ({"type": "SFTP", "hostname": "192.0.2.1", "password": "x", "folder": "backup"}, "folder",
     "The folder must be an absolute path."),
    ({"type": "Local", "folder": "/proc/backup"}, "folder", "The folder cannot be under /dev, /proc or /sys."),
    ({"type": "SFTP", "hostname": "192.0.2.1", "password": "x", "ssh_port": 70000}, "ssh_port",
     "Ensure this value is less than or equal to 65535."),
    ({"type": "FTP"}, "type", '"FTP" is not a valid choice.'),
])
def test_backup_storage_validation(api, data, field, message):
    payload = {"name": "BS", "username": "root", "folder": "/backupStorage", **data}
    err = error(api.post("/api/v1/backup-storages/", payload, format="json"), 400)
    assert (err["field"], err["message"]) == (field, message)
    assert not BackupStorage.objects.exists() and not Job.objects.filter(kind="addBackupStorage").exists()


@pytest.mark.django_db
def test_admin_shows_credentials_as_set_or_not_set(user):
    storage = BackupStorage.objects.create(name="BS", type="SFTP", hostname="192.0.2.1", username="root",
                                           folder="/backupStorage", password_token=encrypt("s3cret-pass"))
    make_local_backup_storage(name="LOCAL", folder="/srv/nimbo-bs-test")
    client = Client()
    client.force_login(user)
    listing = client.get("/storage/backupstorage/")
    assert listing.status_code == 200
    text = listing.content.decode()
    assert "s3cret-pass" not in text and storage.password_token not in text
    assert "not set" in text
    page = client.get(f"/storage/backupstorage/{storage.pk}/change/").content.decode()
    assert "s3cret-pass" not in page and storage.password_token not in page
    assert '<div class="readonly">set</div>' in page


@pytest.mark.django_db(transaction=True)
def test_reconnect_marks_disconnected_with_the_reason_then_connected(api, jobs_inline, tmp_path):
    folder = tmp_path / "bs"
    storage = make_local_backup_storage(folder=str(folder))
    folder.write_text("now a file")
    job = Job.objects.get(pk=api.post(f"/api/v1/backup-storages/{storage.uuid}/reconnect/").json()["job"]["uuid"])
    assert job.state == "failed" and job.error == f"Folder {folder} cannot be used: File exists."
    assert api.get(f"/api/v1/backup-storages/{storage.uuid}/").json()["status"] == "Disconnected"
    folder.unlink()
    job = Job.objects.get(pk=api.post(f"/api/v1/backup-storages/{storage.uuid}/reconnect/").json()["job"]["uuid"])
    assert job.state == "succeeded", job.error
    assert api.get(f"/api/v1/backup-storages/{storage.uuid}/").json()["status"] == "Connected"


@pytest.mark.django_db
def test_backup_storage_holding_images_cannot_be_deleted(api, tmp_path):
    from apps.images.models import Image, ImageBackupStorageRef

    storage = make_local_backup_storage(folder=str(tmp_path))
    image = Image.objects.create(name="zs-sample-image", url="/srv/a.qcow2")
    ImageBackupStorageRef.objects.create(image=image, backup_storage=storage)
    err = error(api.delete(f"/api/v1/backup-storages/{storage.uuid}/"), 409)
    assert err == {"code": "in_use", "field": None,
                   "message": "Still used by image copy on backup storage zs-sample-image on BACKUP-STORAGE1"}
