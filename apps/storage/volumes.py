"""Volumes and the image cache: what the VM work calls to give a VM its disk.

- `ensure_image_cached(image, primary_storage, ctx=None, host=None)`: the first VM of an image on a
  primary storage copies the image (as qcow2) into the storage's cache, as a job step with progress.
- `create_root_volume(image, primary_storage, name, ctx=None, host=None, size=None) -> Volume`: a qcow2 overlay
  on the cached image (`qemu-img create -f qcow2 -b <cache> -F qcow2`): instant once cached.
- `delete_volume(volume)`: removes its file and its row.

`host` is the host that will run the VM (None: the management node). Set `volume.vm_instance`
to link a volume to its VM.
"""

import contextlib

from django.db import IntegrityError, transaction

from apps.core.exceptions import InvalidInput, JobFailed
from apps.core.jobs import operation, start_job
from apps.core.services import update_object
from apps.images.choices import ImageState, MediaType

from .agent import call_host
from .backup import image_source
from .choices import VolumeState, VolumeType
from .models import Volume

MIN_DATA_VOLUME = 1024 * 1024


def _step(ctx, name, progress=None):
    return ctx.step(name, progress=progress) if ctx is not None else contextlib.nullcontext()


def _check_attached(primary_storage):
    if not primary_storage.attachments.exists():
        raise InvalidInput(f"Primary storage {primary_storage.name} is not attached to any cluster.",
                           field="primary_storage")


def ensure_image_cached(image, primary_storage, ctx=None, host=None):
    """The Ready ImageCache of `image` on `primary_storage`, copying the image there first if needed."""
    from apps.images.models import ImageCache

    if image.state != ImageState.READY:
        raise InvalidInput(f"Image {image.name} is not ready ({image.state}).", field="image")
    if image.media_type == MediaType.ISO:
        raise InvalidInput(f"Image {image.name} is an ISO; it cannot back a volume.", field="image")
    host_id = host.pk if host is not None else None
    where = {"image": image, "primary_storage": primary_storage, "host_id": host_id}
    cache = ImageCache.objects.filter(**where).first()
    if cache is not None and cache.state == ImageState.READY:
        return cache
    created = False
    if cache is None:
        try:
            with transaction.atomic():
                cache = ImageCache.objects.create(**where, install_path=primary_storage.cache_path(image))
                created = True
        except IntegrityError:  # another VM of the same image started caching it just now
            cache = ImageCache.objects.get(**where)
    copy = image.copies.select_related("backup_storage").filter(state=ImageState.READY).first()
    if copy is None:
        raise JobFailed(f"Image {image.name} has no ready copy on any backup storage.")
    spec = {"source": image_source(copy.backup_storage, copy.install_path), "format": image.format,
            "path": cache.install_path}

    def progress(done, total):
        if ctx is not None and total:
            ctx.progress(100 * done // total, cache_bytes=done, cache_total=total)

    # The host copies once per cache file: a second caller's call waits for the first copy and
    # then finds the file there (workers.host.storage.cache_image).
    name = (f"Copy image {image.name} to the cache of {primary_storage.name}" if created else
            f"Wait for image {image.name} to reach the cache of {primary_storage.name}")
    with _step(ctx, name):
        try:
            result = call_host(host, "cache_image", spec, progress=progress)
        except Exception:
            if created:  # the copy failed: the next VM of this image tries again
                ImageCache.objects.filter(pk=cache.pk).exclude(state=ImageState.READY).delete()
            raise
    ready = {"state": ImageState.READY, "size": result["actual_size"]}
    if not ImageCache.objects.filter(pk=cache.pk).update(**ready):
        # Its row went away meanwhile (the caller that made it failed, then this copy succeeded).
        cache, _ = ImageCache.objects.update_or_create(**where, defaults={**ready, "install_path": cache.install_path})
    cache.refresh_from_db()
    return cache


def create_root_volume(image, primary_storage, name, ctx=None, host=None, size=None):
    """A Ready root volume: a qcow2 overlay on the image cached on `primary_storage`.

    `size` (bytes) grows the disk beyond the image's virtual size; by default it is the image's.
    """
    _check_attached(primary_storage)
    if size and image.virtual_size and size < image.virtual_size:
        raise InvalidInput(f"A root volume cannot be smaller than its image ({image.virtual_size} bytes).",
                           field="size")
    cache = ensure_image_cached(image, primary_storage, ctx=ctx, host=host)
    volume = Volume.objects.create(name=name, type=VolumeType.ROOT, primary_storage=primary_storage, host=host,
                                   image=image, size=size or image.virtual_size or 0, state=VolumeState.CREATING)
    with _step(ctx, f"Create root volume {name}"):
        make_volume_file(volume, {"backing": cache.install_path, "size": size})
    return volume


def make_volume_file(volume, spec):
    volume.install_path = volume.primary_storage.volume_path(volume)
    try:
        result = call_host(volume.host, "create_volume", {"path": volume.install_path, **spec})
    except Exception:
        volume.delete()
        raise
    volume.size, volume.actual_size = result["virtual_size"], result["actual_size"]
    volume.state = VolumeState.READY
    volume.save(update_fields=["install_path", "size", "actual_size", "state", "updated"])


def delete_volume(volume):
    """Remove the volume's file from primary storage, then its row."""
    if volume.install_path:
        call_host(volume.host, "delete_file", {"path": volume.install_path})
    volume.delete()


# --- the API's side: data volumes and deletes as jobs ---------------------------------------------

def start_create_data_volume(user=None, primary_storage=None, size=None, **fields):
    if not size or size < MIN_DATA_VOLUME:
        raise InvalidInput("A data volume must be at least 1M.", field="size")
    _check_attached(primary_storage)
    from apps.projects.quotas import charge

    charge(fields.get("project"), Volume, {"type": VolumeType.DATA})
    volume = Volume.objects.create(type=VolumeType.DATA, primary_storage=primary_storage, size=size,
                                   state=VolumeState.CREATING, **fields)
    job = start_job("createDataVolume", "apps.storage.jobs.create_data_volume", user=user, target=volume,
                    params={"volume": str(volume.pk)})
    return volume, job


def start_delete_volume(volume, user=None):
    return start_job("deleteVolume", "apps.storage.jobs.delete_volume", user=user, target=volume,
                     params={"volume": str(volume.pk)})


@operation("updateVolume", target="volume")
def update_volume(volume, **fields):
    return update_object(volume, fields, frozen=("primary_storage", "size"))
