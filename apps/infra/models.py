"""Zones and clusters (hosts join clusters in the hosts work)."""

from django.db import models

from apps.core.models import BaseModel

from .choices import EnabledState, HypervisorType


class Zone(BaseModel):
    """A data center, or one failure domain of one: everything else lives in a zone."""

    state = models.CharField(
        max_length=16, choices=EnabledState.choices, default=EnabledState.ENABLED, verbose_name="state"
    )

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["name"], name="%(app_label)s_%(class)s_unique_name")]


class Cluster(BaseModel):
    """A group of hosts of one hypervisor type that share primary storage and L2 networks."""

    zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="clusters", verbose_name="zone")
    hypervisor_type = models.CharField(
        max_length=16, choices=HypervisorType.choices, default=HypervisorType.KVM, verbose_name="hypervisor type"
    )
    state = models.CharField(
        max_length=16, choices=EnabledState.choices, default=EnabledState.ENABLED, verbose_name="state"
    )

    class Meta:
        ordering = ["zone__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["zone", "name"], name="%(app_label)s_%(class)s_unique_zone_name"),
        ]
