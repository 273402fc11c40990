"""Primary storage, backup storage, images and volumes through the API, as every resource
(tests/support/resources.py). Adding, attaching, downloading and deleting them are jobs: their own files."""

import pytest

from apps.images.models import Image, ImageBackupStorageRef
from apps.storage.models import BackupStorage, PrimaryStorage, PrimaryStorageAttachment, Volume
from tests.support.factories import make_cluster, make_local_backup_storage, make_primary_storage, make_zone
from tests.support.resources import ResourceAPITests

pytestmark = pytest.mark.django_db


class TestPrimaryStorageAPI(ResourceAPITests):
    url = "/api/v1/primary-storages/"
    model = PrimaryStorage
    create_kind, update_kind, delete_kind = "addPrimaryStorage", "updatePrimaryStorage", "deletePrimaryStorage"
    create_expected = {"name": "PS", "type": "NFS", "url": "192.0.2.10:/export/primary", "clusters": [],
                       "total_capacity": None}
    update_data = {"state": "Disabled", "description": "slow disks"}
    frozen_fields = {"url": ("/srv/other", "URL cannot be changed."),
                     "type": ("NFS", "Type cannot be changed."),
                     "zone": (lambda self: str(make_zone(name="ZONE2").uuid), "Zone cannot be changed.")}
    duplicate_error = {"code": "duplicate", "field": None, "message": (
        "Primary storage with this Zone and Name already exists. "
        "Primary storage with this Zone and URL already exists.")}
    list_queries = 5  # session, user, count, page, attached clusters

    def create_data(self):
        return {"name": "PS", "zone": str(make_zone().uuid), "type": "NFS", "url": "192.0.2.10:/export/primary/"}

    def make(self, i):
        cluster = make_cluster(zone=make_zone(name=f"Z{i}"))
        storage = make_primary_storage(zone=cluster.zone, name=f"PS{i}", state="Disabled" if i == 1 else "Enabled")
        if i:  # row 0 stays detached: it can be deleted
            PrimaryStorageAttachment.objects.create(primary_storage=storage, cluster=cluster)
        return storage

    def filters(self):
        rows = [self.make(i) for i in range(3)]
        return [({"state": "Disabled"}, ["PS1"]), ({"zone": str(rows[2].zone.uuid)}, ["PS2"]),
                ({"type": "NFS"}, [])]


class TestBackupStorageAPI(ResourceAPITests):
    url = "/api/v1/backup-storages/"
    model = BackupStorage
    update_kind, delete_kind = "updateBackupStorage", "deleteBackupStorage"
    update_data = {"description": "offsite", "state": "Disabled"}
    frozen_fields = {"type": ("SFTP", "Type cannot be changed.")}
    list_queries = 5  # session, user, count, page, zones

    def make(self, i):
        backup = make_local_backup_storage(name=f"BS{i}")
        backup.zones.add(make_zone(name=f"Z{i}"))
        return backup

    def filters(self):
        rows = [self.make(i) for i in range(3)]
        return [({"zones": str(rows[1].zones.get().uuid)}, ["BS1"]), ({"type": "SFTP"}, [])]


class TestImageAPI(ResourceAPITests):
    """Adding and deleting an image are download and clean-up jobs: tests/images/test_images.py."""

    url = "/api/v1/images/"
    model = Image
    update_kind = "updateImage"
    update_data = {"description": "Debian", "system": True}
    list_queries = 7  # session, user, count, page, backup storages, their refs, caches

    def make(self, i):
        image = Image.objects.create(name=f"img{i}", url="/srv/a.qcow2", state="Ready", system=i == 1)
        backup = make_local_backup_storage(name=f"BS{i}")
        ImageBackupStorageRef.objects.create(image=image, backup_storage=backup)
        return image

    def filters(self):
        for i in range(3):
            self.make(i)
        return [({"system": "true"}, ["img1"]), ({"search": "img2"}, ["img2"])]


class TestVolumeAPI(ResourceAPITests):
    """Creating and deleting a data volume are jobs: tests/storage/test_volumes.py."""

    url = "/api/v1/volumes/"
    model = Volume
    update_kind = "updateVolume"
    update_data = {"name": "DATA", "description": "logs"}
    frozen_fields = {"size": (1024**3, "Size cannot be changed.")}
    list_queries = 4  # session, user, count, page

    def make(self, i):
        if not hasattr(self, "_storage"):
            self._storage = make_primary_storage()
            self._image = Image.objects.create(name="img", url="/srv/a.qcow2", state="Ready")
        return Volume.objects.create(name=f"v{i}", primary_storage=self._storage, image=self._image,
                                     size=64 * 1024**2)

    def filters(self):
        rows = [self.make(i) for i in range(2)]
        other = Volume.objects.create(name="other", primary_storage=make_primary_storage(make_zone(name="Z9")))
        return [({"primary_storage": str(other.primary_storage.uuid)}, ["other"]),
                ({"image": str(rows[0].image.uuid)}, ["v0", "v1"])]
