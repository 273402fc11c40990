"""Starting the VM lifecycle jobs (the services the API, the admin and the CLI call).

Each returns the Job; the work happens in apps/compute/jobs.py on a worker.
"""

from apps.core.exceptions import Conflict
from apps.core.jobs import start_job

from .choices import VmState


def _job(kind, handler, vm, user, **params):
    return start_job(kind, f"apps.compute.jobs.{handler}", user=user, target=vm,
                     params={"vm": str(vm.pk), **params})


def start_create_vm(vm, user=None):
    """The first start of a VM just recorded (placement, disk, networks, guest)."""
    return _job("startVmInstance", "create_vm", vm, user)


def start_vm(vm, user=None):
    if vm.state in (VmState.DESTROYING, VmState.DESTROYED):
        raise Conflict(f"VM {vm} is {vm.state}.", field="state")
    return _job("startVmInstance", "start_vm", vm, user)


def stop_vm(vm, user=None, timeout=30):
    """Graceful stop within `timeout` seconds, then forced."""
    return _job("stopVmInstance", "stop_vm", vm, user, timeout=int(timeout))


def reboot_vm(vm, user=None, timeout=30):
    if vm.state != VmState.RUNNING:
        raise Conflict(f"VM {vm} is {vm.state}; only a running VM can be rebooted.", field="state")
    return _job("rebootVmInstance", "reboot_vm", vm, user, timeout=int(timeout))


def destroy_vm(vm, user=None):
    return _job("destroyVmInstance", "destroy_vm", vm, user)


def reconcile_routers(user=None):
    return start_job("reconcileVirtualRouters", "apps.vrouter.jobs.reconcile_routers", user=user)
