"""Adding a sandbox host (SSH, Ansible, agent, facts) and booting the guest image to its sshd banner.

Targets: a host added in well under 60 s; the guest image answering SSH in well under a minute
under QEMU emulation (seconds with KVM).
"""

import shutil
import socket
import subprocess
import time

TARGETS = {"add host": 60.0, "guest sshd": 60.0}


def _add_host():
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test.utils import override_settings

    from apps.infra import sandbox, services
    from apps.infra.models import Cluster, Host, Zone

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_superuser("bench-hosts", "bench@example.org", "bench-pw-1")
    cluster = Cluster.objects.create(zone=Zone.objects.create(name="BENCH-HOSTS"), name="C", hypervisor_type="Sandbox")
    started = time.perf_counter()
    with override_settings(NIMBO_JOBS_INLINE=True):
        job = services.add_host(user=user, name="H", cluster=cluster, management_ip="198.51.100.199",
                                password="bench-Pw-1")
    elapsed = time.perf_counter() - started
    job.refresh_from_db()
    host = Host.objects.select_related("cluster").filter(name="H").first()
    try:
        assert job.state == "succeeded", job.error
        return elapsed
    finally:
        if host:
            sandbox.destroy_machine(host.netns)
        sandbox.destroy_phys()


def _guest_sshd():
    from apps.infra.guest_image import GUEST_IMAGE, ensure_built
    from workers.host.facts import kvm_works

    ensure_built()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    accel = "kvm" if kvm_works() else "tcg"
    started = time.perf_counter()
    proc = subprocess.Popen(["qemu-system-x86_64", "-machine", f"accel={accel}", "-m", "256", "-display", "none",
                             "-drive", f"file={GUEST_IMAGE},format=qcow2,if=virtio,snapshot=on",
                             "-nic", f"user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:{port}-:22"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - started < 120:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                    if s.recv(16).startswith(b"SSH-2.0-"):
                        return time.perf_counter() - started, accel
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError("the guest's sshd did not answer within 120 s")
    finally:
        proc.terminate()
        proc.wait()


def run():
    import os

    if os.geteuid() != 0:
        print("   skipped: needs root (namespaces)")
        return
    elapsed = _add_host()
    target = TARGETS["add host"]
    print(f"   add host (sandbox, SSH + Ansible + agent + facts): {elapsed:6.1f} s   target < {target:.0f} s")
    if shutil.which("qemu-system-x86_64"):
        elapsed, accel = _guest_sshd()
        print(f"   guest image to sshd banner ({accel}):            {elapsed:6.1f} s   "
              f"target < {TARGETS['guest sshd']:.0f} s")
