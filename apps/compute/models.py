"""Instance offerings (VMs and their NICs join in the compute work)."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.core.fields import SizeField
from apps.core.models import BaseModel

from .choices import AllocatorStrategy

MIN_MEMORY = 16 * 1024**2


class InstanceOffering(BaseModel):
    """The size of a VM: CPUs, CPU speed and memory, and how to pick its host."""

    cpu_num = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(1024)], verbose_name="CPU number"
    )
    cpu_speed = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(1_000_000)], verbose_name="CPU speed (MHz)",
        help_text="Relative CPU share, as in ZStack (e.g. 512).",
    )
    memory_size = SizeField(
        validators=[MinValueValidator(MIN_MEMORY, message="Memory must be at least 16M.")],
        verbose_name="memory",
    )
    allocator_strategy = models.CharField(
        max_length=64, choices=AllocatorStrategy.choices, default=AllocatorStrategy.DEFAULT,
        verbose_name="allocator strategy",
    )

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["name"], name="%(app_label)s_%(class)s_unique_name")]
