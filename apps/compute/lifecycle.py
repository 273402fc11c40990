"""Starting the VM lifecycle jobs (the services the API, the admin and the CLI call).

Each returns the Job; the work happens in apps/compute/jobs.py on a worker.
"""

from apps.core.exceptions import Conflict
from apps.core.jobs import start_job

from .choices import VmState


def _job(kind, handler, vm, user, **params):
    return start_job(kind, handler, user=user, target=vm, params={"vm": str(vm.pk), **params})


def start_create_vm(vm, user=None):
    """The first start of a VM just recorded (placement, disk, networks, guest)."""
    return _job("startVmInstance", "apps.compute.jobs.create_vm", vm, user)


def start_vm(vm, user=None):
    if vm.state in (VmState.DESTROYING, VmState.DESTROYED):
        raise Conflict(f"VM {vm} is {vm.state}.", field="state")
    return _job("startVmInstance", "apps.compute.jobs.start_vm", vm, user)


def stop_vm(vm, user=None, timeout=30):
    """Graceful stop within `timeout` seconds, then forced."""
    return _job("stopVmInstance", "apps.compute.jobs.stop_vm", vm, user, timeout=int(timeout))


def reboot_vm(vm, user=None, timeout=30):
    if vm.state != VmState.RUNNING:
        raise Conflict(f"VM {vm} is {vm.state}; only a running VM can be rebooted.", field="state")
    return _job("rebootVmInstance", "apps.compute.jobs.reboot_vm", vm, user, timeout=int(timeout))


def destroy_vm(vm, user=None):
    return _job("destroyVmInstance", "apps.compute.jobs.destroy_vm", vm, user)


def reconcile_routers(user=None):
    return start_job("reconcileVirtualRouters", "apps.vrouter.jobs.reconcile_routers", user=user)


def create_and_start_vm(*, user=None, security_groups=(), start=True, **fields):
    """What the portal's New VM form does in one call: record the VM (services.create_vm), put its NICs in
    `security_groups` (each NIC joins the groups attached to its L3), and start its first boot as a job.

    Returns (vm, job or None). A refusal of any part undoes the whole (one transaction).
    """
    from django.db import transaction

    from apps.secgroups import services as sg_services

    from . import services

    with transaction.atomic():
        vm = services.create_vm(user=user, **fields)
        nics = list(vm.nics.all())
        for group in security_groups:
            attached = set(group.l3_refs.values_list("l3_network_id", flat=True))
            members = [nic for nic in nics if nic.l3_network_id in attached]
            if not members:
                from apps.core.exceptions import InvalidInput

                raise InvalidInput(f"Security group {group} is attached to none of the VM's L3 networks.",
                                   field="security_groups")
            sg_services.add_nics(group, members, user=user)
        job = start_create_vm(vm, user=user) if start else None
    return vm, job
