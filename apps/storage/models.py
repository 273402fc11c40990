"""Primary storage (where volumes live), backup storage (where images live) and volumes."""

import posixpath
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.core.fields import SizeField
from apps.core.models import BaseModel
from apps.core.validators import validate_ssh_username
from apps.projects.fields import project_field
from workers.host.storage import is_forbidden_path, is_system_directory

from .choices import BackupStorageType, EnabledState, PrimaryStorageType, StorageStatus, VolumeState, VolumeType

# host:/path as mount(8) takes it: a host name, an IPv4 address or a bracketed IPv6 address.
NFS_URL = re.compile(r"^(?P<host>[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]):(?P<path>/(?!/).*)$")
HOSTNAME = re.compile(r"^([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|[0-9A-Fa-f:.]+)$")


def check_path(path, field, what, *, local=False):
    """An absolute path outside /dev, /proc and /sys, else ValidationError on `field`.

    `local`: a directory on our own hosts that Nimbo fills, which must also not be / or a system
    directory (/etc, /usr, /tmp itself...), whatever ".." or "//" it is written with."""
    if not path.startswith("/"):
        raise ValidationError({field: f"{what} must be an absolute path."})
    if "\x00" in path or "\n" in path:
        raise ValidationError({field: f"{what} contains invalid characters."})
    if is_forbidden_path(path):
        raise ValidationError({field: f"{what} cannot be under /dev, /proc or /sys."})
    if local and is_system_directory(path):
        raise ValidationError({field: f"{what} cannot be / or a system directory ({posixpath.normpath(path)}); "
                                      "give it a directory of its own, such as /var/lib/nimbo/storage."})


def mount_root():
    return str(getattr(settings, "NIMBO_PRIMARY_STORAGE_MOUNT_ROOT", settings.VAR_DIR / "primary-storage"))


class PrimaryStorage(BaseModel):
    """Where volumes and the image cache live: an NFS export or a directory on each host, per zone.

    It is usable by the hosts of the clusters it is attached to; attaching mounts it on each of
    their connected hosts. Capacity is read from where it is mounted (summed over hosts for
    local storage, whose directories are separate disks).
    """

    zone = models.ForeignKey("infra.Zone", on_delete=models.PROTECT, related_name="primary_storages",
                             verbose_name="zone")
    type = models.CharField(max_length=16, choices=PrimaryStorageType.choices, verbose_name="type")
    url = models.CharField(max_length=1024, verbose_name="URL",
                           help_text="NFS: host:/path as mount takes it. Local storage: a directory on each host.")
    mount_point = models.CharField(max_length=1024, blank=True, default="", editable=False,
                                   verbose_name="mount point", help_text="Where hosts see it.")
    state = models.CharField(max_length=16, choices=EnabledState.choices, default=EnabledState.ENABLED,
                             verbose_name="state")
    total_capacity = models.BigIntegerField(null=True, blank=True, editable=False, verbose_name="total capacity")
    available_capacity = models.BigIntegerField(null=True, blank=True, editable=False,
                                                verbose_name="available capacity")
    clusters = models.ManyToManyField("infra.Cluster", through="PrimaryStorageAttachment", blank=True,
                                      related_name="primary_storages", verbose_name="clusters")

    class Meta:
        ordering = ["zone__name", "name"]
        verbose_name_plural = "primary storages"
        constraints = [
            models.UniqueConstraint(fields=["zone", "name"], name="%(app_label)s_%(class)s_unique_zone_name"),
            models.UniqueConstraint(fields=["zone", "url"], name="%(app_label)s_%(class)s_unique_zone_url"),
        ]

    def clean(self):
        url = (self.url or "").strip()
        self.url = url
        if self.type == PrimaryStorageType.NFS:
            match = NFS_URL.match(url)
            if not match:
                raise ValidationError({"url": "Enter an NFS URL as mount takes it: host:/path."})
            check_path(match["path"], "url", "The exported path")
            self.url = f"{match['host']}:{posixpath.normpath(match['path'])}"
        elif self.type == PrimaryStorageType.LOCAL:
            check_path(url, "url", "The directory", local=True)
            self.url = "/" + posixpath.normpath(url).lstrip("/")
        if not self.mount_point:
            self.mount_point = self.url if self.type == PrimaryStorageType.LOCAL else f"{mount_root()}/{self.uuid}"

    def cache_path(self, image):
        return f"{self.mount_point}/imagecache/{image.uuid}.qcow2"

    def volume_path(self, volume):
        return f"{self.mount_point}/volumes/{volume.uuid}.qcow2"

    def host_spec(self):
        """What a host needs to mount it (workers.host.storage.mount_primary_storage)."""
        return {"type": self.type, "url": self.url, "mount_point": self.mount_point}


class PrimaryStorageAttachment(models.Model):
    """A primary storage attached to a cluster: every host of the cluster mounts it."""

    primary_storage = models.ForeignKey(PrimaryStorage, on_delete=models.CASCADE, related_name="attachments",
                                        verbose_name="primary storage")
    cluster = models.ForeignKey("infra.Cluster", on_delete=models.PROTECT, related_name="primary_storage_attachments",
                                verbose_name="cluster")
    created = models.DateTimeField(auto_now_add=True, verbose_name="attached")

    class Meta:
        ordering = ["created"]
        verbose_name = "primary storage attachment"
        constraints = [
            models.UniqueConstraint(fields=["primary_storage", "cluster"],
                                    name="%(app_label)s_%(class)s_unique_storage_cluster"),
        ]

    def __str__(self):
        return f"{self.primary_storage} on {self.cluster}"


class BackupStorage(BaseModel):
    """Where images are kept: a folder on an SFTP server or a directory on the management node.

    SSH credentials are stored encrypted (apps.core.crypto) and are never shown back.
    """

    type = models.CharField(max_length=16, choices=BackupStorageType.choices, verbose_name="type")
    hostname = models.CharField(max_length=255, blank=True, default="", verbose_name="hostname")
    ssh_port = models.PositiveIntegerField(default=22, validators=[MinValueValidator(1), MaxValueValidator(65535)],
                                           verbose_name="SSH port")
    username = models.CharField(max_length=64, blank=True, default="", verbose_name="username")
    password_token = models.TextField(blank=True, default="", editable=False, verbose_name="password (encrypted)")
    private_key_token = models.TextField(blank=True, default="", editable=False,
                                         verbose_name="private key (encrypted)")
    folder = models.CharField(max_length=1024, verbose_name="folder", help_text="Absolute path, e.g. /backupStorage.")
    state = models.CharField(max_length=16, choices=EnabledState.choices, default=EnabledState.ENABLED,
                             verbose_name="state")
    status = models.CharField(max_length=16, choices=StorageStatus.choices, default=StorageStatus.CONNECTING,
                              editable=False, verbose_name="status")
    total_capacity = models.BigIntegerField(null=True, blank=True, editable=False, verbose_name="total capacity")
    available_capacity = models.BigIntegerField(null=True, blank=True, editable=False,
                                                verbose_name="available capacity")
    zones = models.ManyToManyField("infra.Zone", blank=True, related_name="backup_storages", verbose_name="zones")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "backup storages"
        constraints = [
            models.UniqueConstraint(fields=["name"], name="%(app_label)s_%(class)s_unique_name"),
            models.UniqueConstraint(fields=["hostname", "ssh_port", "folder"],
                                    name="%(app_label)s_%(class)s_unique_location"),
        ]

    def clean(self):
        self.folder = (self.folder or "").strip()
        check_path(self.folder, "folder", "The folder", local=self.type == BackupStorageType.LOCAL)
        self.folder = "/" + posixpath.normpath(self.folder).lstrip("/")
        if self.type == BackupStorageType.SFTP:
            self.hostname = (self.hostname or "").strip()
            if not self.hostname:
                raise ValidationError({"hostname": "An SFTP backup storage needs a hostname."})
            if not HOSTNAME.match(self.hostname):
                raise ValidationError({"hostname": "Enter a host name or an IP address."})
            if not self.username:
                raise ValidationError({"username": "An SFTP backup storage needs a username."})
            validate_ssh_username(self.username, field="username")
        elif self.type == BackupStorageType.LOCAL:
            self.hostname, self.username = "", ""

    @property
    def password_set(self):
        return bool(self.password_token)

    @property
    def private_key_set(self):
        return bool(self.private_key_token)

    def ssh_spec(self):
        """Decrypted connection data for workers.host.sftp (never stored or logged)."""
        from apps.core.crypto import decrypt

        return {"hostname": self.hostname, "port": self.ssh_port, "username": self.username,
                "password": decrypt(self.password_token), "private_key": decrypt(self.private_key_token)}

    def image_path(self, image):
        return f"{self.folder}/images/{image.uuid}.{image.format}"


class Volume(BaseModel):
    """A VM disk on primary storage: a root volume (a qcow2 overlay on a cached image) or a data volume.

    `vm_instance` is the VM it belongs to (empty for a detached data volume); a VM cannot be
    deleted while it still has volumes: its delete removes them first (delete_volume).
    """

    project = project_field("volumes")
    type = models.CharField(max_length=8, choices=VolumeType.choices, default=VolumeType.DATA, verbose_name="type")
    primary_storage = models.ForeignKey(PrimaryStorage, on_delete=models.PROTECT, related_name="volumes",
                                        verbose_name="primary storage")
    host = models.ForeignKey("infra.Host", null=True, blank=True, on_delete=models.PROTECT, related_name="volumes",
                             verbose_name="host", help_text="For local storage: the host whose disk holds it.")
    vm_instance = models.ForeignKey("compute.VmInstance", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="volumes", verbose_name="VM")
    image = models.ForeignKey("images.Image", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="volumes", verbose_name="image")
    size = SizeField(default=0, verbose_name="size")
    actual_size = models.BigIntegerField(null=True, blank=True, verbose_name="actual size (bytes)")
    format = models.CharField(max_length=8, default="qcow2", editable=False, verbose_name="format")
    install_path = models.CharField(max_length=1024, blank=True, default="", verbose_name="install path")
    state = models.CharField(max_length=16, choices=VolumeState.choices, default=VolumeState.CREATING,
                             verbose_name="state")

    class Meta:
        ordering = ["name"]
