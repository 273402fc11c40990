from django.db import models


class ImageFormat(models.TextChoices):
    QCOW2 = "qcow2", "qcow2"
    RAW = "raw", "raw"
    ISO = "iso", "iso"


class MediaType(models.TextChoices):
    ROOT_VOLUME_TEMPLATE = "RootVolumeTemplate", "Root volume template"
    ISO = "ISO", "ISO"
    DATA_VOLUME_TEMPLATE = "DataVolumeTemplate", "Data volume template"


class Platform(models.TextChoices):
    LINUX = "Linux", "Linux"
    WINDOWS = "Windows", "Windows"
    OTHER = "Other", "Other"


class ImageState(models.TextChoices):
    DOWNLOADING = "Downloading", "Downloading"
    READY = "Ready", "Ready"
    FAILED = "Failed", "Failed"
