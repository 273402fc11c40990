from django.db import models


class AllocatorStrategy(models.TextChoices):
    DEFAULT = "DefaultHostAllocatorStrategy", "Default (first host with room)"
    LEAST_USED = "LeastUsedHostAllocatorStrategy", "Least used host"
    LAST_HOST = "LastHostPreferredAllocatorStrategy", "Prefer the last host"


class VmState(models.TextChoices):
    CREATED = "Created", "Created"
    STARTING = "Starting", "Starting"
    RUNNING = "Running", "Running"
    STOPPING = "Stopping", "Stopping"
    STOPPED = "Stopped", "Stopped"
    REBOOTING = "Rebooting", "Rebooting"
    DESTROYING = "Destroying", "Destroying"
    DESTROYED = "Destroyed", "Destroyed"
    ERROR = "Error", "Error"


class VmType(models.TextChoices):
    USER = "UserVm", "User VM"
    APPLIANCE = "ApplianceVm", "Appliance VM (virtual router)"


class GuestKind(models.TextChoices):
    LIBVIRT = "Libvirt", "Libvirt guest (a real VM)"
    NAMESPACE = "Namespace", "Namespace guest (sandbox hosts only: a namespace with DHCP and sshd)"
