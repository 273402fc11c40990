"""The portal (admin) pages of storage and images render, and adding goes through the services."""

import pytest
from django.test import Client
from django.urls import reverse

from apps.core.models import Job
from apps.images.models import Image
from apps.storage.models import PrimaryStorage
from tests.support.factories import make_local_backup_storage, make_primary_storage, make_zone

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(user):
    client = Client()
    client.force_login(user)
    return client


def test_pages_render(client, tmp_path):
    storage = make_primary_storage(url=str(tmp_path / "ps"))
    backup = make_local_backup_storage(folder=str(tmp_path / "bs"))
    image = Image.objects.create(name="img", url="/srv/a.qcow2")
    for url in ["/storage/primarystorage/", "/storage/primarystorage/add/",
                f"/storage/primarystorage/{storage.pk}/change/",
                "/storage/backupstorage/", "/storage/backupstorage/add/", f"/storage/backupstorage/{backup.pk}/change/",
                "/storage/volume/", "/images/image/", "/images/image/add/", f"/images/image/{image.pk}/change/"]:
        assert client.get(url).status_code == 200, url


def test_admin_add_primary_storage_refuses_with_the_same_words(client):
    zone = make_zone()
    response = client.post("/storage/primarystorage/add/", {"name": "PS", "zone": zone.pk, "type": "NFS",
                                                            "url": "server:/proc/x", "state": "Enabled",
                                                            "attachments-TOTAL_FORMS": 0,
                                                            "attachments-INITIAL_FORMS": 0})
    assert "The exported path cannot be under /dev, /proc or /sys." in response.content.decode()
    assert not PrimaryStorage.objects.exists()
    client.post("/storage/primarystorage/add/", {"name": "PS", "zone": zone.pk, "type": "NFS",
                                                 "url": "server:/export", "state": "Enabled",
                                                 "attachments-TOTAL_FORMS": 0, "attachments-INITIAL_FORMS": 0})
    assert PrimaryStorage.objects.get().url == "server:/export"
    assert Job.objects.get().kind == "addPrimaryStorage"


@pytest.mark.django_db(transaction=True)
def test_admin_add_backup_storage_runs_the_add_job_and_never_shows_the_password(client, jobs_inline, tmp_path):
    from apps.core.crypto import decrypt
    from apps.storage.models import BackupStorage

    response = client.post("/storage/backupstorage/add/", {
        "name": "LOCAL-BS", "description": "", "type": "Local", "hostname": "", "ssh_port": 22, "username": "",
        "password": "typed-secret", "private_key": "", "folder": str(tmp_path / "bs"), "state": "Enabled"})
    assert response.status_code == 302, response.content.decode()[:2000]
    storage = BackupStorage.objects.get()
    assert storage.status == "Connected" and Job.objects.get(kind="addBackupStorage").state == "succeeded"
    assert decrypt(storage.password_token) == "typed-secret"
    page = client.get(f"/storage/backupstorage/{storage.pk}/change/").content.decode()
    assert "typed-secret" not in page and '<div class="readonly">set</div>' in page


@pytest.mark.django_db(transaction=True)
def test_admin_add_whose_job_fails_says_the_job_runs_and_shows_its_failure(client, jobs_inline, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    response = client.post("/storage/backupstorage/add/", {
        "name": "BAD-BS", "description": "", "type": "Local", "hostname": "", "ssh_port": 22, "username": "",
        "password": "", "private_key": "", "folder": str(tmp_path / "a-file" / "bs"), "state": "Enabled"}, follow=True)
    job = Job.objects.get(kind="addBackupStorage")
    assert job.state == "failed" and job.error
    assert response.redirect_chain[-1][0] == reverse("core:job-detail", args=[job.pk])
    page = response.content.decode()
    assert "added successfully" not in page
    assert "Backup storage BAD-BS is being added by a job (addBackupStorage)" in page
    assert job.error in page.replace("&#x27;", "'")
