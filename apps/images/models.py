"""Images: templates that VMs and routers boot from (their copies and caches join in the storage work)."""

from django.db import models

from apps.core.models import BaseModel

from .choices import ImageFormat, ImageState, MediaType, Platform


class Image(BaseModel):
    """A disk template or ISO, added by URL; System images are for appliances such as routers."""

    url = models.CharField(max_length=2048, verbose_name="URL")
    format = models.CharField(max_length=8, choices=ImageFormat.choices, default=ImageFormat.QCOW2,
                              verbose_name="format")
    media_type = models.CharField(max_length=32, choices=MediaType.choices, default=MediaType.ROOT_VOLUME_TEMPLATE,
                                  verbose_name="media type")
    platform = models.CharField(max_length=16, choices=Platform.choices, default=Platform.LINUX,
                                verbose_name="platform")
    system = models.BooleanField(default=False, verbose_name="system",
                                 help_text="For appliances such as virtual routers; not for user VMs.")
    state = models.CharField(max_length=16, choices=ImageState.choices, default=ImageState.DOWNLOADING,
                             verbose_name="state")
    actual_size = models.BigIntegerField(null=True, blank=True, verbose_name="actual size (bytes)")
    virtual_size = models.BigIntegerField(null=True, blank=True, verbose_name="virtual size (bytes)")
    sha256 = models.CharField(max_length=64, blank=True, default="", verbose_name="SHA-256")

    class Meta:
        ordering = ["name"]
