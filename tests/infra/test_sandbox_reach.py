"""The management side reaches addresses of a sandbox network through the sandbox, never through the
machine's own routes: an SFTP backup storage and an image URL at a sandbox machine's address."""

import subprocess
import sys

import pytest

from apps.core.models import Job
from apps.infra import sandbox
from apps.storage.models import BackupStorage
from tests.support.httpserve import make_qcow2
from tests.support.sandbox import free_ip

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.root]


@pytest.fixture
def machine(sandboxes):
    """A sandbox machine (its own namespace, address and sshd) that is not a Nimbo host."""
    ip = free_ip()
    return ip, sandboxes.machine(sandbox.machine_netns(ip), ip, "s3cret-Pw")


def test_sftp_backup_storage_and_image_url_on_a_sandbox_address(api, jobs_inline, machine, tmp_path):
    ip, ns = machine
    assert sandbox.netns_for_address(ip) == ns and sandbox.netns_for_address("127.0.0.1") == ""
    folder = f"/tmp/nimbo-test-bs-{ns}"
    response = api.post("/api/v1/backup-storages/", {"name": "SFTP-BS", "type": "SFTP", "hostname": ip,
                                                     "username": "root", "password": "s3cret-Pw", "folder": folder},
                        format="json")
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["job"]["uuid"])
    try:
        assert job.state == "succeeded", job.error
        storage = BackupStorage.objects.get()
        assert storage.status == "Connected" and storage.total_capacity > 0

        # An image served over HTTP from inside the sandbox machine goes to that storage.
        make_qcow2(tmp_path / "img.qcow2", data_mib=1)
        server = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-m", "http.server", "--bind", ip,
                                   "8080", "-d", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            probe = ["ip", "netns", "exec", ns, sys.executable, "-c",
                     f"import socket,time\nfor _ in range(100):\n try: socket.create_connection(('{ip}', 8080)); break"
                     "\n except OSError: time.sleep(0.05)"]
            subprocess.run(probe, check=True, timeout=10)
            added = api.post("/api/v1/images/", {"name": "img", "url": f"http://{ip}:8080/img.qcow2", "format": "qcow2",
                                                 "media_type": "RootVolumeTemplate", "platform": "Linux",
                                                 "backup_storages": [str(storage.pk)]}, format="json")
            assert added.status_code == 202, added.content
            job = Job.objects.get(pk=added.json()["job"]["uuid"])
            assert job.state == "succeeded", job.error
        finally:
            server.terminate()
            server.wait(10)
    finally:
        subprocess.run(["rm", "-rf", folder], check=False)
