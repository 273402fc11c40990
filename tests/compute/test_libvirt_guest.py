"""A real libvirt guest on a sandbox host's bridge gets its DHCP lease from the router's dnsmasq.

The guest is a tiny Linux: the installed Debian cloud kernel and an initramfs built here from
busybox-static and the kernel's virtio modules, which runs udhcpc on eth0 and then waits.
"""

import glob
import os
import shutil
import subprocess
import time
import uuid

import pytest

from apps.compute.compile import compile_domain
from apps.vrouter.compile import compile_dnsmasq
from tests.support.dataplane import HostNamespace, suffix
from workers.host import domains, links, router

pytestmark = [pytest.mark.root, pytest.mark.slow]

INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net; do
  insmod /lib/modules/$m.ko
done
ip link set lo up; ip link set eth0 up
udhcpc -i eth0 -s /udhcpc.sh -t 30 -T 1 -q -n && echo "NIMBO-GUEST-UP $(ip -4 -o addr show dev eth0)"
while true; do sleep 60; done
"""
UDHCPC = """#!/bin/sh
[ "$1" = bound ] && ip addr add "$ip/$mask" dev "$interface" && hostname "$hostname"
exit 0
"""
MODULES = ["virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci", "failover",
           "net_failover", "virtio_net"]


def kernel():
    found = sorted(glob.glob("/boot/vmlinuz-*"))
    return found[-1] if found else None


def build_guest(workdir):
    """Copy the kernel and build an initramfs; returns (kernel, initrd) paths readable by qemu."""
    vmlinuz = kernel()
    release = os.path.basename(vmlinuz).removeprefix("vmlinuz-")
    root = os.path.join(workdir, "root")
    for d in ("bin", "proc", "sys", "dev", "lib/modules"):
        os.makedirs(os.path.join(root, d))
    shutil.copy("/bin/busybox", os.path.join(root, "bin/busybox"))
    for name in MODULES:
        found = glob.glob(f"/lib/modules/{release}/kernel/**/{name}.ko*", recursive=True)
        shutil.copy(found[0], os.path.join(root, "lib/modules", f"{name}.ko"))
    for path, text in (("init", INIT), ("udhcpc.sh", UDHCPC)):
        with open(os.path.join(root, path), "w") as f:
            f.write(text)
        os.chmod(os.path.join(root, path), 0o755)
    initrd = os.path.join(workdir, "initrd.cpio")
    files = subprocess.run(["find", "."], cwd=root, capture_output=True, text=True, check=True).stdout
    with open(initrd, "wb") as out:
        subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, input=files.encode(), stdout=out, check=True)
    shutil.copy(vmlinuz, os.path.join(workdir, "vmlinuz"))
    return os.path.join(workdir, "vmlinuz"), initrd


def console_of(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-3000:]
    except FileNotFoundError:
        return "(no console log)"


@pytest.fixture
def libvirtd():
    started = domains.ensure_libvirtd()
    yield
    domains.stop_daemons(started)


@pytest.mark.skipif(kernel() is None or not shutil.which("libvirtd"), reason="needs a kernel in /boot and libvirtd")
def test_libvirt_guest_on_a_sandbox_bridge_gets_its_lease_and_leaves_nothing_behind(libvirtd):
    sfx = suffix()
    mac = "fa:16:3e:00:01:40"
    workdir = f"/var/tmp/nimbo-test-guest-{sfx}"
    os.makedirs(workdir, mode=0o755)
    name = f"nimbo-test-{sfx}"
    with HostNamespace() as host:
        host.on_cleanup(shutil.rmtree, workdir, ignore_errors=True)
        vr_name = f"nimbo-vr-{sfx}"
        state_dir = os.path.join(router.STATE_ROOT, vr_name)
        vr = router.RouterSpec(
            name=vr_name, bridge=host.bridge, leg=f"vr{sfx}", address="198.51.100.2/24", host_netns=host.name,
            files=compile_dnsmasq({"state_dir": state_dir, "interface": "eth0", "address": "198.51.100.2",
                                   "netmask": "255.255.255.0", "gateway": "198.51.100.1", "domain": "example.org",
                                   "dns_servers": [],
                                   "hosts": [{"mac": mac, "ip": "198.51.100.240", "hostname": "tiny"}]}),
        )
        host.on_cleanup(router.destroy_router, vr)
        router.ensure_router(vr)
        vmlinuz, initrd = build_guest(workdir)
        tap = f"vt{sfx}"
        console = os.path.join(workdir, "console.log")
        xml = compile_domain({
            "name": name, "uuid": str(uuid.uuid4()), "memory": 256 * 1024**2, "vcpus": 1,
            # Software emulation: nested KVM on test machines can hang guests; the type is the host's fact.
            "domain_type": "qemu", "console_log": console,
            "kernel": vmlinuz, "initrd": initrd, "cmdline": "console=ttyS0 quiet panic=-1",
            "nics": [{"mac": mac, "dev": tap, "bridge": None}],
        })
        host.on_cleanup(domains.undefine, name)
        assert domains.define(xml) == name
        taps = [{"dev": tap, "bridge": host.bridge, "host_netns": host.name}]
        assert domains.start(name, taps) == "Running"
        assert links.link_master(tap, netns=host.name) == host.bridge
        assert not links.link_exists(tap)  # not left in the root namespace

        deadline = time.monotonic() + 60
        while not any(lease["mac"] == mac for lease in router.leases(vr)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert {"mac": mac, "ip": "198.51.100.240", "hostname": "tiny"} in router.leases(vr), console_of(console)
        # The lease is recorded at the server's answer; the guest configures its address a moment later
        # (software emulation under load can take a few seconds).
        deadline = time.monotonic() + 30
        while True:
            ping = subprocess.run(["ip", "netns", "exec", vr.name, "ping", "-c", "1", "-W", "2", "198.51.100.240"],
                                  capture_output=True, text=True)
            if ping.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert ping.returncode == 0, (ping.stdout, console_of(console))
        # The serial console is captured (qemu may flush it a little later than the packets flow).
        deadline = time.monotonic() + 20
        while "lease of 198.51.100.240 obtained" not in console_of(console) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert "lease of 198.51.100.240 obtained" in console_of(console)

        # This guest has no ACPI daemon: the graceful stop times out and the domain is destroyed.
        assert domains.stop(name, timeout=1) == "forced"
        assert domains.state(name) == "Stopped"
        assert not links.link_exists(tap, netns=host.name) and not links.link_exists(tap)
        domains.undefine(name)
        assert domains.state(name) is None
