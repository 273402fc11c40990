"""What the host has: CPUs, memory, whether KVM works (else guests run as `qemu` domains)."""

import contextlib
import fcntl
import glob
import os
import platform
import shutil
import socket
import subprocess
import tempfile
import time

from .ops import operation

KVM_GET_API_VERSION = 0xAE00


def kvm_device_answers():
    """True if /dev/kvm opens read-write and answers the KVM API version ioctl (12)."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return fcntl.ioctl(fd, KVM_GET_API_VERSION) == 12
    except OSError:
        return False
    finally:
        os.close(fd)


PROBE_CACHE = "/run/nimbo-kvm-probe"


def _probe_kernel():
    candidates = [f"/boot/vmlinuz-{platform.release()}", *sorted(glob.glob("/boot/vmlinuz-*"))]
    extra = os.environ.get("NIMBO_KVM_PROBE_KERNEL")
    return next((k for k in ([extra] if extra else []) + candidates if k and os.access(k, os.R_OK)), None)


def kvm_runs_guests(seconds=3.0):
    """Boot a Linux kernel under QEMU with KVM for a moment and look for its first words.

    Nested or partial KVM (some micro-VMs) answers the ioctl yet cannot run a guest's boot
    code: guests would hang. With KVM a kernel prints "Linux version" well within a second.
    """
    qemu, kernel = shutil.which("qemu-system-x86_64"), _probe_kernel()
    if not qemu or not kernel:
        return True  # nothing to try it with: trust the device
    with tempfile.TemporaryDirectory(prefix="nimbo-kvm-probe-") as tmp:
        log = os.path.join(tmp, "console")
        cmd = [qemu, "-machine", "accel=kvm", "-nodefaults", "-display", "none", "-m", "64", "-no-reboot",
               "-serial", f"file:{log}", "-kernel", kernel, "-append", "console=ttyS0 panic=-1"]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + seconds
        seen = False
        try:
            while time.monotonic() < deadline and proc.poll() is None and not seen:
                time.sleep(0.1)
                with contextlib.suppress(OSError), open(log, "rb") as fh:
                    seen = b"Linux version" in fh.read()
        finally:
            proc.kill()
            proc.wait()
    return seen


def _boot_id():
    with contextlib.suppress(OSError), open("/proc/sys/kernel/random/boot_id") as fh:
        return fh.read().strip()
    return ""


def kvm_works():
    """KVM usable for guests: NIMBO_KVM=0/1 decides; else the device answers and a kernel boots
    with it (probed once per boot of the host, the answer kept in /run)."""
    forced = os.environ.get("NIMBO_KVM")
    if forced in ("0", "1"):
        return forced == "1"
    if not kvm_device_answers():
        return False
    boot = _boot_id()
    with contextlib.suppress(OSError, ValueError), open(PROBE_CACHE) as fh:
        cached_boot, answer = fh.read().split()
        if cached_boot == boot:
            return answer == "kvm"
    answer = "kvm" if kvm_runs_guests() else "qemu"
    with contextlib.suppress(OSError), open(PROBE_CACHE, "w") as fh:
        fh.write(f"{boot} {answer}\n")
    return answer == "kvm"


def cpu_mhz():
    try:
        with open("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq") as fh:
            return int(fh.read()) // 1000
    except (OSError, ValueError):
        pass
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("cpu MHz"):
                    return int(float(line.split(":")[1]))
    except (OSError, ValueError):
        pass
    return 0


def memory_bytes():
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def os_name():
    try:
        with open("/etc/os-release") as fh:
            for line in fh:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


@operation("host.facts")
def facts():
    kvm = kvm_works()
    return {
        "cpu_num": os.cpu_count() or 0,
        "cpu_speed": cpu_mhz(),
        "memory_size": memory_bytes(),
        "kvm": kvm,
        "domain_type": "kvm" if kvm else "qemu",
        "hostname": socket.gethostname(),
        "kernel": platform.release(),
        "os": os_name(),
    }


@operation("host.ping")
def ping():
    return {"pid": os.getpid()}
