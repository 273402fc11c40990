from django.db import models

from apps.core.choices import EnabledState  # noqa: F401 - re-exported for the infra models


class HypervisorType(models.TextChoices):
    KVM = "KVM", "KVM"
    SANDBOX = "Sandbox", "Sandbox (namespaces on the management node)"


class HostStatus(models.TextChoices):
    CONNECTING = "Connecting", "Connecting"
    CONNECTED = "Connected", "Connected"
    DISCONNECTED = "Disconnected", "Disconnected"


class DomainType(models.TextChoices):
    KVM = "kvm", "kvm (hardware virtualisation)"
    QEMU = "qemu", "qemu (software emulation)"
