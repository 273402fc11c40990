"""What the host has: CPUs, memory, whether KVM works (else guests run as `qemu` domains)."""

import fcntl
import os
import platform
import socket

from .ops import operation

KVM_GET_API_VERSION = 0xAE00


def kvm_works():
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
