from django.db import models

from apps.core.choices import EnabledState  # noqa: F401 - re-exported for the storage models


class PrimaryStorageType(models.TextChoices):
    NFS = "NFS", "NFS"
    LOCAL = "LocalStorage", "Local storage (a directory on each host)"


class BackupStorageType(models.TextChoices):
    SFTP = "SFTP", "SFTP"
    LOCAL = "Local", "Local (a directory on the management node)"


class StorageStatus(models.TextChoices):
    CONNECTING = "Connecting", "Connecting"
    CONNECTED = "Connected", "Connected"
    DISCONNECTED = "Disconnected", "Disconnected"


class VolumeType(models.TextChoices):
    ROOT = "Root", "Root"
    DATA = "Data", "Data"


class VolumeState(models.TextChoices):
    CREATING = "Creating", "Creating"
    READY = "Ready", "Ready"
    FAILED = "Failed", "Failed"
