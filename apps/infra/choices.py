from django.db import models

from apps.core.choices import EnabledState  # noqa: F401 - re-exported for the infra models


class HypervisorType(models.TextChoices):
    KVM = "KVM", "KVM"
    SANDBOX = "Sandbox", "Sandbox (namespaces on the management node)"
