"""The guest image boots under QEMU, gets its address and host name by DHCP, and its sshd answers."""

import shutil
import socket
import subprocess
import time

import paramiko
import pytest

from apps.infra.guest_image import GUEST_KEY, GUEST_PASSWORD, ensure_built
from tests.support.workers import stop_process

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not shutil.which("qemu-system-x86_64"), reason="QEMU is not installed")]


@pytest.fixture(scope="module")
def image():
    return ensure_built()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def banner(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            return s.recv(64).decode(errors="replace")
    except OSError:
        return ""


def test_guest_image_boots_and_sshd_answers(image, tmp_path):
    from workers.host.facts import kvm_works

    port = free_port()
    console = tmp_path / "console.log"
    cmd = ["qemu-system-x86_64", "-machine", "accel=kvm" if kvm_works() else "accel=tcg", "-m", "256",
           "-display", "none", "-no-reboot", "-serial", f"file:{console}",
           "-drive", f"file={image},format=qcow2,if=virtio,snapshot=on",
           "-nic", f"user,model=virtio-net-pci,hostname=probe-vm,hostfwd=tcp:127.0.0.1:{port}-:22"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 55
        text = ""
        while time.monotonic() < deadline and proc.poll() is None:
            text = banner(port)
            if text.startswith("SSH-2.0-"):
                break
            time.sleep(0.5)
        assert text.startswith("SSH-2.0-dropbear"), (
            f"no sshd banner; console:\n{console.read_text(errors='replace')[-3000:] if console.exists() else ''}"
            f"\n{proc.stderr.read().decode() if proc.poll() is not None else ''}")
        # Root logs in with the documented key and password; the host name came from DHCP.
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        client.connect("127.0.0.1", port, "root", key_filename=str(GUEST_KEY), look_for_keys=False,
                       allow_agent=False, timeout=10)
        _, out, _ = client.exec_command("hostname; ip -4 -o addr show dev eth0")
        hostname, addr = out.read().decode().splitlines()[:2]
        client.close()
        assert hostname == "probe-vm" and "10.0.2.15/24" in addr
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        client.connect("127.0.0.1", port, "root", password=GUEST_PASSWORD, look_for_keys=False, allow_agent=False,
                       timeout=10)
        client.close()
    finally:
        stop_process(proc)
