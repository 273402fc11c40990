"""Primary storage on a real sandbox host: attaching mounts it through the host's own agent."""

import pytest

from apps.core.models import Job
from apps.infra import services as infra
from apps.infra.models import Host
from apps.storage.services import attach_primary_storage, detach_primary_storage
from apps.images.models import Image, ImageBackupStorageRef, ImageCache
from apps.storage.volumes import create_root_volume, delete_volume
from tests.support.factories import make_cluster, make_local_backup_storage, make_primary_storage
from tests.support.httpserve import make_qcow2
from tests.support.sandbox import free_ip

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.root]


def test_attach_runs_on_the_hosts_agent(jobs_inline, user, sandboxes, tmp_path):
    cluster = make_cluster(hypervisor_type="Sandbox")
    job = infra.add_host(user=user, name="HOST1", cluster=cluster, management_ip=free_ip(), password="s3cret-Pw")
    job.refresh_from_db()
    assert job.state == "succeeded", job.error
    host = Host.objects.get()
    sandboxes.track(host.netns)
    storage = make_primary_storage(zone=cluster.zone, url=str(tmp_path / "ps"))
    attach = attach_primary_storage(storage, cluster, user=user)
    attach.refresh_from_db()
    assert attach.state == "succeeded", attach.error
    assert attach.result["hosts"] == ["HOST1"] and (tmp_path / "ps").is_dir()
    storage.refresh_from_db()
    assert storage.total_capacity > 0
    # The first root volume on the host: the agent copies the image into the cache, then overlays it.
    image = Image.objects.create(name="zs-sample-image", url="/srv/x.qcow2", state="Ready")
    backup = make_local_backup_storage(folder=str(tmp_path / "bs"))
    (tmp_path / "bs" / "images").mkdir(parents=True)
    make_qcow2(backup.image_path(image), data_mib=1)
    ImageBackupStorageRef.objects.create(image=image, backup_storage=backup, state="Ready",
                                         install_path=backup.image_path(image))
    volume = create_root_volume(image, storage, "ROOT", host=host)
    assert volume.host == host and volume.state == "Ready"
    assert ImageCache.objects.get(host=host).state == "Ready"
    assert (tmp_path / "ps" / "volumes" / f"{volume.uuid}.qcow2").exists()
    delete_volume(volume)
    assert not (tmp_path / "ps" / "volumes" / f"{volume.uuid}.qcow2").exists()
    detach = detach_primary_storage(storage, cluster, user=user)
    detach.refresh_from_db()
    assert detach.state == "succeeded" and not storage.attachments.exists()
    assert Job.objects.filter(kind="attachPrimaryStorageToCluster", state="succeeded").count() == 1
