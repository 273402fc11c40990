"""Operations on images: add (a download job per backup storage), update, delete, and the checks
other areas call before using an image."""

from django.db import transaction

from apps.core.exceptions import Conflict, InUse, InvalidInput
from apps.core.jobs import operation, start_job
from apps.core.services import create_object, update_object
from apps.storage.choices import StorageStatus

from .choices import ImageState, MediaType
from .models import Image, ImageBackupStorageRef


def check_image_for_user_vm(image):
    """Raise InvalidInput (field "image") unless a user VM may boot from `image`.

    System images are for appliances (virtual routers) only; the image must be Ready and be a
    root volume template or an ISO.
    """
    if image.system:
        raise InvalidInput(f"Image {image.name} is a System image, for appliances only; it cannot be used for a "
                           "user VM.", field="image")
    check_image_ready(image)
    if image.media_type == MediaType.DATA_VOLUME_TEMPLATE:
        raise InvalidInput(f"Image {image.name} is a data volume template; a VM cannot boot from it.", field="image")


def check_image_ready(image):
    if image.state != ImageState.READY:
        raise InvalidInput(f"Image {image.name} is not ready ({image.state}).", field="image")


def add_image(user=None, backup_storages=(), **fields):
    """Record the image and start one download job per backup storage. Returns (image, jobs)."""
    if not backup_storages:
        raise InvalidInput("Choose at least one backup storage.", field="backup_storages")
    from apps.projects.access import is_cloud_admin

    if not is_cloud_admin(user) and not str(fields.get("url", "")).lower().startswith(("http://", "https://")):
        # Files on the management node are the admin's to import; a project adds images by http(s).
        raise InvalidInput("Give an http:// or https:// URL; only a cloud admin imports files of the management "
                           "node.", field="url")
    if not is_cloud_admin(user) and fields.get("system"):
        raise InvalidInput("Only a cloud admin adds System images.", field="system")
    for storage in backup_storages:
        if storage.status != StorageStatus.CONNECTED or storage.state != "Enabled":
            raise InvalidInput(f"Backup storage {storage.name} is not connected and enabled.",
                               field="backup_storages")
    with transaction.atomic():
        image = create_object(Image, {**fields, "state": ImageState.DOWNLOADING})
        jobs = []
        for storage in backup_storages:
            ref = ImageBackupStorageRef.objects.create(image=image, backup_storage=storage,
                                                       install_path=storage.image_path(image))
            jobs.append(start_job("addImage", "apps.images.jobs.add_image", user=user, target=image,
                                  params={"copy": ref.pk}))
    return image, jobs


@operation("updateImage", target="image")
def update_image(image, **fields):
    return update_object(image, fields, frozen=("url", "format", "media_type"))


def check_not_in_use(image):
    users = [f"VM {vm}" for vm in image.vm_instances.all()[:3]]
    users += [f"volume {v}" for v in image.volumes.all()[:3]]
    if users:
        raise InUse(f"Image {image.name} is in use by {', '.join(users)}.")


def delete_image(image, user=None):
    """Refuse (409) while volumes or VMs use it; else start the job that removes its files and row."""
    if image.state == ImageState.DOWNLOADING:
        raise Conflict(f"Image {image.name} is still downloading; delete it once the download has ended.")
    check_not_in_use(image)
    return start_job("deleteImage", "apps.images.jobs.delete_image", user=user, target=image,
                     params={"image": str(image.pk)})


def refresh_image_state(image):
    """Ready once one copy is Ready; Failed once every copy failed; else still Downloading."""
    states = set(image.copies.values_list("state", flat=True))
    if ImageState.READY in states:
        image.state = ImageState.READY
    elif ImageState.DOWNLOADING in states:
        image.state = ImageState.DOWNLOADING
    else:
        image.state = ImageState.FAILED
    image.save(update_fields=["state", "updated"])
