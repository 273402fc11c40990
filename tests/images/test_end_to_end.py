"""Scenario 01 steps 5-7 with real files moving: an SFTP backup storage on a real sshd, an image
downloaded from a real HTTP server with progress on the websocket, then cached on primary storage
and given to two root volumes as qcow2 overlays."""

import hashlib
import json
import subprocess
import time

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from apps.core.models import Job
from apps.images.models import Image, ImageCache
from apps.storage.models import PrimaryStorage
from apps.storage.volumes import create_root_volume, delete_volume
from portal.asgi import application
from tests.support.factories import make_cluster
from tests.support.httpserve import http_server, make_qcow2
from tests.support.jobs import run_worker
from tests.support.sshd import in_netns, sshd_in_namespace

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.root]  # sshd in a namespace


@pytest.fixture
def sshd():
    with sshd_in_namespace() as server:
        yield server


@pytest.fixture
def fresh_channel_layer():
    """A channel layer made in this test's event loop (its locks bind to the loop that first waits on them)."""
    from channels.layers import channel_layers

    channel_layers.backends.pop("default", None)
    yield
    channel_layers.backends.pop("default", None)


def _login():
    user = get_user_model().objects.create_superuser("bob", "", "correct-horse-9")
    client, api = Client(), APIClient()
    client.force_login(user)
    api.force_login(user)
    return client.cookies["sessionid"].value, api


def _job(response):
    assert response.status_code == 202, response.content
    return response.json()["job"]["uuid"]


def _scenario(api, sshd, www, tmp_path):
    """Steps 5-7 through the API, jobs run by a real RQ worker; returns what the test checks."""
    import django_rq

    django_rq.get_queue("default").empty()
    folder = sshd.workdir / "backupStorage"
    with in_netns(sshd.client_ns), http_server(www, delay=0.15) as base:
        cluster = make_cluster()
        ps = api.post("/api/v1/primary-storages/", {"name": "PRIMARY-STORAGE1", "zone": str(cluster.zone.uuid),
                                                    "type": "LocalStorage", "url": str(tmp_path / "ps")},
                      format="json").json()
        attach = _job(api.post(f"/api/v1/primary-storages/{ps['uuid']}/attach/", {"cluster": str(cluster.uuid)},
                               format="json"))
        add_bs = _job(api.post("/api/v1/backup-storages/", {
            "name": "BACKUP-STORAGE1", "type": "SFTP", "hostname": sshd.host, "ssh_port": sshd.port,
            "username": "root", "password": sshd.password, "folder": str(folder), "zones": [str(cluster.zone.uuid)]},
            format="json"))
        run_worker()
        bs = api.get("/api/v1/backup-storages/").json()["results"][0]
        assert Job.objects.get(pk=add_bs).state == "succeeded" and bs["status"] == "Connected"
        add_image = api.post("/api/v1/images/", {
            "name": "zs-sample-image", "url": f"{base}/disk.qcow2", "format": "qcow2",
            "media_type": "RootVolumeTemplate", "platform": "Linux", "backup_storages": [bs["uuid"]]}, format="json")
        image_job = _job(add_image)
        run_worker()
        image = Image.objects.get(pk=add_image.json()["image"]["uuid"])
        storage = PrimaryStorage.objects.get(pk=ps["uuid"])
        first = create_root_volume(image, storage, "INNER-VM-ROOT")
        started = time.perf_counter()
        second = create_root_volume(image, storage, "OUTER-VM-ROOT")
        second_seconds = time.perf_counter() - started
    print(f"second root volume (overlay on the cached image): {second_seconds * 1000:.1f} ms")
    return {"attach": attach, "image_job": image_job, "image": image, "folder": folder, "first": first,
            "second": second, "storage": storage, "listing": json.dumps(api.get("/api/v1/backup-storages/").json())}


async def test_backup_storage_image_download_cache_and_overlays(sshd, tmp_path, fresh_channel_layer):
    www = tmp_path / "www"
    www.mkdir()
    disk = make_qcow2(www / "disk.qcow2")
    session_key, api = await sync_to_async(_login)()
    comm = WebsocketCommunicator(application, "/ws/events/", headers=[
        (b"origin", b"http://testserver"), (b"cookie", f"sessionid={session_key}".encode())])
    connected, _ = await comm.connect()
    assert connected

    out = await sync_to_async(_scenario)(api, sshd, www, tmp_path)

    # Progress of the download arrived live: percent and bytes, before the end.
    events = []
    while not await comm.receive_nothing(timeout=1):
        events.append(await comm.receive_json_from())
    mine = [e["job"] for e in events if e["job"]["uuid"] == out["image_job"]]
    running = [j for j in mine if j["state"] == "running" and 0 < j["progress"] < 80]
    assert running, [(j["state"], j["progress"]) for j in mine]
    assert all(0 < j["result"]["bytes_done"] <= j["result"]["bytes_total"] for j in running)
    assert mine[-1]["state"] == "succeeded" and mine[-1]["message"] == "addImage finished"
    kinds = [e["job"]["kind"] for e in events if e["job"]["state"] == "succeeded"]
    assert {"addPrimaryStorage", "attachPrimaryStorageToCluster", "addBackupStorage", "addImage"} <= set(kinds)
    await comm.disconnect()

    # The file on the backup storage (the SSH server's disk) has the right sha256.
    image = out["image"]
    expected = hashlib.sha256(disk.read_bytes()).hexdigest()
    stored = out["folder"] / "images" / f"{image.uuid}.qcow2"
    assert image.state == "Ready" and image.sha256 == expected
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == expected
    assert "password" not in out["listing"].replace("password_set", "")

    # One cache copy, two overlays on it.
    cache = await ImageCache.objects.aget(image=image)
    assert cache.state == "Ready" and cache.install_path == f"{tmp_path}/ps/imagecache/{image.uuid}.qcow2"
    for volume in (out["first"], out["second"]):
        info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", volume.install_path],
                                         capture_output=True, check=True, text=True).stdout)
        assert info["format"] == "qcow2" and info["backing-filename"] == cache.install_path
        assert info["backing-filename-format"] == "qcow2" and info["virtual-size"] == 64 * 1024**2
        assert volume.state == "Ready" and volume.size == 64 * 1024**2
    assert sorted(p.name for p in (tmp_path / "ps").rglob("*") if p.is_file()) == sorted(
        [f"{image.uuid}.qcow2", f"{out['first'].uuid}.qcow2", f"{out['second'].uuid}.qcow2"])
    await sync_to_async(delete_volume)(out["second"])
    assert not (tmp_path / "ps" / "volumes" / f"{out['second'].uuid}.qcow2").exists()
