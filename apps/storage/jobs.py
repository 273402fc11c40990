"""Worker jobs of storage: attach/detach primary storage to a cluster, add a backup storage."""

import contextlib

from apps.core.exceptions import JobFailed
from apps.infra.models import Cluster
from workers.host.errors import HostError

from . import services, volumes
from .backup import open_backup_storage
from .choices import StorageStatus
from .models import BackupStorage, PrimaryStorage, Volume
from .volumes import make_volume_file


def attach_primary_storage(ctx, primary_storage, cluster):
    storage = PrimaryStorage.objects.get(pk=primary_storage)
    cluster = Cluster.objects.get(pk=cluster)
    ctx.on_failure(lambda: storage.attachments.filter(cluster=cluster).delete())
    hosts = services.connected_hosts(cluster)
    if not hosts:
        ctx.skip("Mount on hosts", f"cluster {cluster.name} has no connected host; checked on the management node")
    with ctx.step(f"Mount {storage.url} on {len(hosts) or 1} host(s)", progress=90):
        result = services.mount_on_hosts(storage, hosts)
    return result


def detach_primary_storage(ctx, primary_storage, cluster):
    storage = PrimaryStorage.objects.get(pk=primary_storage)
    cluster = Cluster.objects.get(pk=cluster)
    hosts = services.connected_hosts(cluster)
    with ctx.step(f"Unmount from {len(hosts)} host(s)", progress=90):
        for host in hosts:
            services.call_host(host, "unmount_primary_storage", storage.host_spec())
        storage.attachments.filter(cluster=cluster).delete()
    if not storage.attachments.exists():
        storage.total_capacity = storage.available_capacity = None
        storage.save(update_fields=["total_capacity", "available_capacity", "updated"])
    return {"hosts": [h.name for h in hosts]}


def reconnect_primary_storage(ctx, primary_storage):
    storage = PrimaryStorage.objects.get(pk=primary_storage)
    hosts = [h for a in storage.attachments.select_related("cluster") for h in services.connected_hosts(a.cluster)]
    with ctx.step(f"Mount {storage.url} on {len(hosts) or 1} host(s)", progress=90):
        return services.mount_on_hosts(storage, hosts)


def add_backup_storage(ctx, backup_storage):
    storage = BackupStorage.objects.get(pk=backup_storage)
    # Adding failed: the backup storage is not added (as a refused form would not be).
    ctx.on_failure(lambda: BackupStorage.objects.filter(pk=storage.pk).delete())
    return _connect(ctx, storage)


def reconnect_backup_storage(ctx, backup_storage):
    storage = BackupStorage.objects.get(pk=backup_storage)
    ctx.on_failure(lambda: services.mark_backup_storage(storage, StorageStatus.DISCONNECTED))
    return _connect(ctx, storage)


def _connect(ctx, storage):
    try:
        with contextlib.ExitStack() as stack:
            with ctx.step(f"Connect to {storage.hostname or 'the management node'}", progress=40):
                files = stack.enter_context(open_backup_storage(storage))
            with ctx.step(f"Check folder {storage.folder}", progress=90):
                capacity = files.prepare()
    except HostError as exc:
        raise JobFailed(exc.message) from exc
    services.mark_backup_storage(storage, StorageStatus.CONNECTED, capacity)
    return {"total_capacity": capacity["total"], "available_capacity": capacity["available"]}


def create_data_volume(ctx, volume):
    volume = Volume.objects.select_related("primary_storage").get(pk=volume)
    with ctx.step(f"Create {volume.size} byte qcow2 on {volume.primary_storage.name}", progress=100):
        make_volume_file(volume, {"size": volume.size})
    return {"install_path": volume.install_path}


def delete_volume(ctx, volume):
    volume = Volume.objects.select_related("primary_storage", "host").get(pk=volume)
    with ctx.step(f"Delete {volume.install_path or 'volume'}", progress=100):
        volumes.delete_volume(volume)
