"""Virtual router offerings: the size, image and networks of the routers a zone boots."""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.compute.models import MIN_MEMORY
from apps.core.fields import SizeField
from apps.core.models import BaseModel
from apps.images.models import Image
from apps.infra.models import Zone
from apps.networks.models import L3Network


class VirtualRouterOffering(BaseModel):
    """How a zone's virtual routers are built: CPU, memory, a System image (optional where the
    router is a namespace, not a VM), a management L3 and a public L3 (defaults to the management
    one). One offering per zone is the default."""

    zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="virtual_router_offerings",
                             verbose_name="zone")
    cpu_num = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1), MaxValueValidator(1024)],
                                          verbose_name="CPU number")
    cpu_speed = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(1_000_000)],
                                            verbose_name="CPU speed (MHz)")
    memory_size = SizeField(validators=[MinValueValidator(MIN_MEMORY, message="Memory must be at least 16M.")],
                            verbose_name="memory")
    image = models.ForeignKey(Image, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="virtual_router_offerings",
                              verbose_name="image")
    management_l3 = models.ForeignKey(L3Network, on_delete=models.PROTECT,
                                      related_name="management_router_offerings", verbose_name="management L3 network")
    public_l3 = models.ForeignKey(L3Network, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="public_router_offerings", verbose_name="public L3 network",
                                  help_text="Defaults to the management L3 network.")
    is_default = models.BooleanField(default=False, verbose_name="default offering")

    class Meta:
        ordering = ["zone__name", "name"]
        verbose_name = "virtual router offering"
        constraints = [
            models.UniqueConstraint(fields=["zone", "name"], name="%(app_label)s_%(class)s_unique_zone_name"),
            models.UniqueConstraint(fields=["zone"], condition=models.Q(is_default=True),
                                    name="%(app_label)s_%(class)s_unique_default_per_zone",
                                    violation_error_message="Zone already has a default virtual router offering."),
        ]

    def clean(self):
        super().clean()
        if self.management_l3_id and not self.public_l3_id:
            self.public_l3 = self.management_l3
        if self.image_id and not self.image.system:
            raise ValidationError({"image": f"Image {self.image} is not a System image."})
        if not self.zone_id:
            return
        for field in ("management_l3", "public_l3"):
            l3 = getattr(self, field) if getattr(self, f"{field}_id") else None
            if l3 is not None and l3.l2_network.zone_id != self.zone_id:
                raise ValidationError({field: f"L3 network {l3} is not in zone {self.zone}."})

    def save(self, *args, **kwargs):
        if self.management_l3_id and not self.public_l3_id:
            self.public_l3_id = self.management_l3_id
        super().save(*args, **kwargs)
