"""A job handler standing in for the VM work's: it gives a VM its root volume."""

from apps.images.models import Image
from apps.storage.models import PrimaryStorage
from apps.storage.volumes import create_root_volume


def root_volume(ctx, image, primary_storage, name="ROOT"):
    volume = create_root_volume(Image.objects.get(pk=image), PrimaryStorage.objects.get(pk=primary_storage), name,
                                ctx=ctx)
    return {"volume": str(volume.pk)}
