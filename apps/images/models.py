"""Images: templates that VMs and routers boot from, their copies on backup storage and their
cache on primary storage."""

import re

from django.core.exceptions import ValidationError
from django.db import models

from apps.core.exceptions import InvalidInput
from apps.core.models import BaseModel
from apps.projects.fields import project_field, shared_field

from .choices import ImageFormat, ImageState, MediaType, Platform

URL_SCHEMES = re.compile(r"^(https?://[^\s/]+(/\S*)?|file:///\S*|/\S*)$", re.IGNORECASE)


class Image(BaseModel):
    """A disk template or ISO, added by URL; System images are for appliances such as routers.

    Its file lives on one or more backup storages (one ImageBackupStorageRef each, with its own
    state); the image is Ready once one copy is, Failed once all failed.
    """

    project = project_field("images")
    shared = shared_field()
    url = models.CharField(max_length=2048, verbose_name="URL",
                           help_text="http(s)://..., file:///path or an absolute path on the management node.")
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
    backup_storages = models.ManyToManyField("storage.BackupStorage", through="ImageBackupStorageRef", blank=True,
                                             related_name="images", verbose_name="backup storages")

    class Meta:
        ordering = ["name"]

    def clean(self):
        self.url = (self.url or "").strip()
        if not URL_SCHEMES.match(self.url):
            raise ValidationError({"url": "Enter an http://, https:// or file:/// URL, or an absolute path."})
        if self._state.adding:  # the URL never changes afterwards; the download checks it again
            from .sources import check_url

            try:
                check_url(self.url)
            except InvalidInput as exc:
                raise ValidationError({"url": exc.message}) from exc
        if self.format == ImageFormat.ISO and self.media_type != MediaType.ISO:
            raise ValidationError({"media_type": "An iso image must have media type ISO."})
        if self.media_type == MediaType.ISO and self.format != ImageFormat.ISO:
            raise ValidationError({"format": "An ISO image must have format iso."})


class ImageBackupStorageRef(models.Model):
    """One image's copy on one backup storage, downloaded by its own job."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="copies", verbose_name="image")
    backup_storage = models.ForeignKey("storage.BackupStorage", on_delete=models.PROTECT, related_name="image_copies",
                                       verbose_name="backup storage")
    state = models.CharField(max_length=16, choices=ImageState.choices, default=ImageState.DOWNLOADING,
                             verbose_name="state")
    install_path = models.CharField(max_length=1024, blank=True, default="", verbose_name="install path")
    error = models.TextField(blank=True, default="", verbose_name="error")
    created = models.DateTimeField(auto_now_add=True, verbose_name="created")

    class Meta:
        ordering = ["created"]
        verbose_name = "image copy on backup storage"
        verbose_name_plural = "image copies on backup storage"
        constraints = [
            models.UniqueConstraint(fields=["image", "backup_storage"],
                                    name="%(app_label)s_%(class)s_unique_image_storage"),
        ]

    def __str__(self):
        return f"{self.image} on {self.backup_storage}"


class ImageCache(models.Model):
    """An image copied (as qcow2) into a primary storage, the backing file of its root volumes.

    `host` is set for local primary storage, where each host has its own cache.
    """

    image = models.ForeignKey(Image, on_delete=models.PROTECT, related_name="caches", verbose_name="image")
    primary_storage = models.ForeignKey("storage.PrimaryStorage", on_delete=models.PROTECT,
                                        related_name="image_caches", verbose_name="primary storage")
    host = models.ForeignKey("infra.Host", null=True, blank=True, on_delete=models.CASCADE,
                             related_name="image_caches", verbose_name="host")
    install_path = models.CharField(max_length=1024, verbose_name="install path")
    state = models.CharField(max_length=16, choices=ImageState.choices, default=ImageState.DOWNLOADING,
                             verbose_name="state")
    size = models.BigIntegerField(null=True, blank=True, verbose_name="size (bytes)")
    created = models.DateTimeField(auto_now_add=True, verbose_name="created")

    class Meta:
        ordering = ["created"]
        verbose_name = "image cache"
        constraints = [
            models.UniqueConstraint(fields=["image", "primary_storage", "host"],
                                    name="%(app_label)s_%(class)s_unique_image_storage_host"),
            models.UniqueConstraint(fields=["image", "primary_storage"], condition=models.Q(host__isnull=True),
                                    name="%(app_label)s_%(class)s_unique_image_storage_nohost"),
        ]

    def __str__(self):
        return f"{self.image} cached on {self.primary_storage}"
