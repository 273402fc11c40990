"""Operations on primary storage, backup storage and volumes: the only place their state changes.

Adding and attaching are separate calls, each announced on its own: adding validates and records
the storage; attaching a primary storage to a cluster (a job) mounts it on the cluster's hosts.
"""

from apps.core.crypto import encrypt
from apps.core.exceptions import Conflict, InUse, InvalidInput
from apps.core.jobs import operation, start_job
from apps.core.services import create_object, delete_object, update_object
from apps.infra.choices import HostStatus
from apps.infra.models import Host

from .agent import call_host
from .choices import PrimaryStorageType
from .models import BackupStorage, PrimaryStorage, PrimaryStorageAttachment


# --- primary storage -----------------------------------------------------------------------------

@operation("addPrimaryStorage")
def create_primary_storage(**fields):
    return create_object(PrimaryStorage, fields)


@operation("updatePrimaryStorage", target="primary_storage")
def update_primary_storage(primary_storage, **fields):
    return update_object(primary_storage, fields, frozen=("zone", "type", "url"))


@operation("deletePrimaryStorage", target="primary_storage")
def delete_primary_storage(primary_storage):
    clusters = [a.cluster.name for a in primary_storage.attachments.select_related("cluster")]
    if clusters:
        raise InUse(f"Primary storage {primary_storage.name} is attached to cluster {', '.join(clusters)}; "
                    "detach it first.")
    # The image cache is derived data: it goes with the storage (volumes still protect it).
    if not primary_storage.volumes.exists():
        primary_storage.image_caches.all().delete()
    delete_object(primary_storage)


def attach_primary_storage(primary_storage, cluster, user=None):
    """Attach to a cluster and start the job that mounts it on the cluster's connected hosts."""
    if cluster.zone_id != primary_storage.zone_id:
        raise InvalidInput(f"Cluster {cluster.name} is not in zone {primary_storage.zone.name}.", field="cluster")
    if primary_storage.attachments.filter(cluster=cluster).exists():
        raise Conflict(f"Primary storage {primary_storage.name} is already attached to cluster {cluster.name}.",
                       field="cluster")
    PrimaryStorageAttachment.objects.create(primary_storage=primary_storage, cluster=cluster)
    return start_job("attachPrimaryStorageToCluster", "apps.storage.jobs.attach_primary_storage", user=user,
                     target=primary_storage,
                     params={"primary_storage": str(primary_storage.pk), "cluster": str(cluster.pk)})


def detach_primary_storage(primary_storage, cluster, user=None):
    """Start the job that unmounts it from the cluster's hosts and removes the attachment."""
    if not primary_storage.attachments.filter(cluster=cluster).exists():
        raise Conflict(f"Primary storage {primary_storage.name} is not attached to cluster {cluster.name}.",
                       field="cluster")
    return start_job("detachPrimaryStorageFromCluster", "apps.storage.jobs.detach_primary_storage", user=user,
                     target=primary_storage,
                     params={"primary_storage": str(primary_storage.pk), "cluster": str(cluster.pk)})


def reconnect_primary_storage(primary_storage, user=None):
    """Mount again on every connected host of its clusters and read the capacity anew (a job)."""
    if not primary_storage.attachments.exists():
        raise Conflict(f"Primary storage {primary_storage.name} is not attached to any cluster.")
    return start_job("reconnectPrimaryStorage", "apps.storage.jobs.reconnect_primary_storage", user=user,
                     target=primary_storage, params={"primary_storage": str(primary_storage.pk)})


def connected_hosts(cluster):
    return list(Host.objects.filter(cluster=cluster, status=HostStatus.CONNECTED).order_by("name"))


def mount_on_hosts(primary_storage, hosts, record_capacity=True):
    """Mount on each host (the management node when there is none) and store the capacity read there."""
    results = [call_host(host, "mount_primary_storage", primary_storage.host_spec()) for host in (hosts or [None])]
    if not record_capacity:
        return {"hosts": [h.name for h in hosts]}
    if primary_storage.type == PrimaryStorageType.LOCAL:
        total = sum(r["total"] for r in results)
        available = sum(r["available"] for r in results)
    else:
        total, available = results[-1]["total"], results[-1]["available"]
    primary_storage.total_capacity, primary_storage.available_capacity = total, available
    primary_storage.save(update_fields=["total_capacity", "available_capacity", "updated"])
    return {"total_capacity": total, "available_capacity": available, "hosts": [h.name for h in hosts]}


def mount_primary_storages_of_host(host):
    """For the hosts work: a host that (re)connects mounts every primary storage of its cluster."""
    for primary_storage in PrimaryStorage.objects.filter(attachments__cluster=host.cluster_id):
        # A local storage's capacity is the sum over all its hosts: one host alone cannot tell it
        # (reconnecting the storage reads it from every host again).
        mount_on_hosts(primary_storage, [host], record_capacity=primary_storage.type == PrimaryStorageType.NFS)


# --- backup storage ------------------------------------------------------------------------------

def _secrets(password, private_key):
    return {"password_token": encrypt(password or ""), "private_key_token": encrypt(private_key or "")}


def add_backup_storage(user=None, password="", private_key="", zones=(), **fields):
    """Record the backup storage and start the job that connects to it, checks the folder and reads its capacity."""
    if fields.get("type") == "SFTP" and not (password or private_key):
        raise InvalidInput("Enter a password or a private key.", field="password")
    backup_storage = create_object(BackupStorage, {**fields, **_secrets(password, private_key)})
    if zones:
        backup_storage.zones.set(zones)
    job = start_job("addBackupStorage", "apps.storage.jobs.add_backup_storage", user=user, target=backup_storage,
                    params={"backup_storage": str(backup_storage.pk)})
    return backup_storage, job


def reconnect_backup_storage(backup_storage, user=None):
    """Log in again, check the folder and read the capacity (a job); Disconnected if that fails."""
    return start_job("reconnectBackupStorage", "apps.storage.jobs.reconnect_backup_storage", user=user,
                     target=backup_storage, params={"backup_storage": str(backup_storage.pk)})


@operation("updateBackupStorage", target="backup_storage")
def update_backup_storage(backup_storage, password=None, private_key=None, **fields):
    if password is not None or private_key is not None:
        fields.update(_secrets(password if password is not None else "", private_key if private_key is not None
                               else ""))
    return update_object(backup_storage, fields, frozen=("type",))


@operation("deleteBackupStorage", target="backup_storage")
def delete_backup_storage(backup_storage):
    delete_object(backup_storage)


@operation("attachBackupStorageToZone", target="backup_storage")
def attach_backup_storage(backup_storage, zone):
    if backup_storage.zones.filter(pk=zone.pk).exists():
        raise Conflict(f"Backup storage {backup_storage.name} is already attached to zone {zone.name}.", field="zone")
    backup_storage.zones.add(zone)
    return backup_storage


@operation("detachBackupStorageFromZone", target="backup_storage")
def detach_backup_storage(backup_storage, zone):
    if not backup_storage.zones.filter(pk=zone.pk).exists():
        raise Conflict(f"Backup storage {backup_storage.name} is not attached to zone {zone.name}.", field="zone")
    backup_storage.zones.remove(zone)
    return backup_storage


def mark_backup_storage(backup_storage, status, capacity=None):
    backup_storage.status = status
    fields = ["status", "updated"]
    if capacity:
        backup_storage.total_capacity, backup_storage.available_capacity = capacity["total"], capacity["available"]
        fields += ["total_capacity", "available_capacity"]
    backup_storage.save(update_fields=fields)

