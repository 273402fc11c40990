"""Root volumes: the first VM of an image copies it into the primary storage cache; later ones get a qcow2 overlay."""

import shutil
import statistics
import tempfile
import time
from pathlib import Path


def run():
    from django.db import connection

    old = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    workdir = Path(tempfile.mkdtemp(prefix="nimbo-bench-volumes-"))
    try:
        _measure(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        connection.creation.destroy_test_db(old, verbosity=0)


def _measure(workdir):
    from apps.images.models import Image, ImageBackupStorageRef
    from apps.infra.models import Cluster, Zone
    from apps.storage.models import BackupStorage, PrimaryStorage, PrimaryStorageAttachment
    from apps.storage.volumes import create_root_volume, delete_volume
    from tests.support.httpserve import make_qcow2

    zone = Zone.objects.create(name="BENCH")
    cluster = Cluster.objects.create(zone=zone, name="BENCH")
    primary = PrimaryStorage(zone=zone, name="PS", type="LocalStorage", url=str(workdir / "ps"))
    primary.full_clean()
    primary.save()
    PrimaryStorageAttachment.objects.create(primary_storage=primary, cluster=cluster)
    backup = BackupStorage.objects.create(name="BS", type="Local", folder=str(workdir / "bs"), status="Connected")
    image = Image.objects.create(name="bench", url="/srv/bench.qcow2", state="Ready")
    (workdir / "bs" / "images").mkdir(parents=True)
    make_qcow2(backup.image_path(image), data_mib=64, virtual="1G")
    ImageBackupStorageRef.objects.create(image=image, backup_storage=backup, state="Ready",
                                         install_path=backup.image_path(image))

    started = time.perf_counter()
    first = create_root_volume(image, primary, "vm-0")
    first_seconds = time.perf_counter() - started
    samples, volumes = [], [first]
    for i in range(1, 21):
        started = time.perf_counter()
        volumes.append(create_root_volume(image, primary, f"vm-{i}"))
        samples.append(time.perf_counter() - started)
    for volume in volumes:
        delete_volume(volume)
    print(f"   first root volume (copies a 64 MiB image into the cache): {first_seconds * 1000:.0f} ms")
    print(f"   later root volumes (qcow2 overlay on the cache): median {statistics.median(samples) * 1000:.1f} ms, "
          f"max {max(samples) * 1000:.1f} ms over {len(samples)}")
