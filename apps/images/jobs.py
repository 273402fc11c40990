"""Worker jobs of images: download to a backup storage (verify, record size and sha256), delete."""

import os
from pathlib import Path

from django.conf import settings

from apps.core.exceptions import JobFailed
from apps.storage.agent import call_host
from apps.storage.backup import open_backup_storage
from apps.storage.services import mark_backup_storage
from apps.storage.choices import BackupStorageType, StorageStatus
from workers.host.errors import HostError
from workers.host.storage import qemu_img_info

from .choices import ImageFormat, ImageState
from .download import download
from .models import Image, ImageBackupStorageRef
from .services import refresh_image_state

# What `qemu-img info` calls each declared format (an ISO is plain bytes to qemu).
QEMU_FORMAT = {ImageFormat.QCOW2: "qcow2", ImageFormat.RAW: "raw", ImageFormat.ISO: "raw"}


def _staging_path(copy):
    storage = copy.backup_storage
    if storage.type == BackupStorageType.LOCAL:
        # Downloaded next to its final place, so a full disk is the backup storage's own.
        os.makedirs(os.path.dirname(copy.install_path), exist_ok=True)
        return copy.install_path + ".part"
    staging = Path(getattr(settings, "NIMBO_IMAGE_STAGING_DIR", settings.VAR_DIR / "image-staging"))
    staging.mkdir(parents=True, exist_ok=True)
    return str(staging / f"{copy.image_id}-{copy.backup_storage_id}.part")


def verify(path, declared):
    """(actual format info) after checking qemu-img agrees with the declared format."""
    try:
        info = qemu_img_info(path)
    except HostError as exc:
        raise JobFailed(f"The downloaded file is not a disk image qemu-img can read: {exc.message}") from exc
    real = info.get("format")
    if real != QEMU_FORMAT[declared]:
        raise JobFailed(f"The image is {real}, not {declared} as declared.")
    if info.get("backing-filename"):
        raise JobFailed("The image has a backing file; only standalone images can be added.")
    return info


def add_image(ctx, copy):
    copy = ImageBackupStorageRef.objects.select_related("image", "backup_storage").get(pk=copy)
    image, storage = copy.image, copy.backup_storage
    staging = _staging_path(copy)
    try:
        with ctx.step(f"Download {image.url}", progress=80):
            def progress(done, total):
                percent = 80 * done // total if total else 0
                ctx.progress(percent, bytes_done=done, bytes_total=total)

            fetched = download(image.url, staging, progress, space_name=f"backup storage {storage.name}")
        with ctx.step("Verify the image with qemu-img", progress=85):
            info = verify(staging, image.format)
        with ctx.step(f"Store on backup storage {storage.name}", progress=100):
            try:
                with open_backup_storage(storage) as files:
                    def upload_progress(done, total):
                        ctx.progress(85 + 15 * done // max(total, 1), bytes_uploaded=done)

                    files.store(staging, copy.install_path, upload_progress)
                    mark_backup_storage(storage, StorageStatus.CONNECTED, files.capacity())
            except HostError as exc:
                raise JobFailed(f"Backup storage {storage.name}: {exc.message}") from exc
    except BaseException as exc:
        Path(staging).unlink(missing_ok=True)
        _remove_copy_file(copy)
        copy.state = ImageState.FAILED
        copy.error = getattr(exc, "message", None) or str(exc)
        copy.save(update_fields=["state", "error"])
        refresh_image_state(image)
        raise
    Path(staging).unlink(missing_ok=True)
    copy.state, copy.error = ImageState.READY, ""
    copy.save(update_fields=["state", "error"])
    image.actual_size, image.virtual_size, image.sha256 = fetched["size"], info["virtual-size"], fetched["sha256"]
    image.save(update_fields=["actual_size", "virtual_size", "sha256", "updated"])
    refresh_image_state(image)
    return {"install_path": copy.install_path, "sha256": fetched["sha256"], "actual_size": fetched["size"],
            "virtual_size": info["virtual-size"]}


def _remove_copy_file(copy):
    try:
        with open_backup_storage(copy.backup_storage) as files:
            files.remove(copy.install_path)
    except HostError:
        pass  # unreachable storage: nothing could have been written there either


def delete_image(ctx, image):
    image = Image.objects.get(pk=image)
    from .services import check_not_in_use

    check_not_in_use(image)
    with ctx.step("Delete copies on backup storage", progress=50):
        for copy in image.copies.select_related("backup_storage"):
            try:
                with open_backup_storage(copy.backup_storage) as files:
                    files.remove(copy.install_path)
            except HostError as exc:
                raise JobFailed(f"Cannot delete the copy on backup storage {copy.backup_storage.name}: "
                                f"{exc.message}") from exc
    with ctx.step("Delete caches on primary storage", progress=90):
        for cache in image.caches.select_related("host"):
            call_host(cache.host, "delete_file", {"path": cache.install_path})
            cache.delete()
    image.delete()
