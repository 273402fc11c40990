"""Operations on zones, clusters and hosts: the only place their state changes."""

from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.db.models import ProtectedError
from django.db.models.deletion import Collector

from apps.core.exceptions import InvalidInput
from apps.core.jobs import operation, start_job
from apps.core.services import create_object, delete_object, update_object

from .choices import HostStatus
from .models import Cluster, Host, Zone


@operation("createZone")
def create_zone(**fields):
    return create_object(Zone, fields)


@operation("updateZone", target="zone")
def update_zone(zone, **fields):
    return update_object(zone, fields)


@operation("deleteZone", target="zone")
def delete_zone(zone):
    delete_object(zone)


@operation("createCluster")
def create_cluster(**fields):
    return create_object(Cluster, fields)


@operation("updateCluster", target="cluster")
def update_cluster(cluster, **fields):
    return update_object(cluster, fields, frozen=("zone", "hypervisor_type"))


@operation("deleteCluster", target="cluster")
def delete_cluster(cluster):
    delete_object(cluster)


# --- Hosts ---------------------------------------------------------------------------------------

HOST_FIELDS = ("name", "description", "cluster", "management_ip", "ssh_port", "username", "state")


def _host_with_password(host, password):
    if password is not None:
        if not password:
            raise ValidationError({"password": "Enter the SSH password."})
        host.password = password
    return host


def add_host(*, user=None, password="", **fields):
    """Record the host and start the job that connects and prepares it; the Job is returned."""
    with transaction.atomic():
        host = _create_host(password=password, **fields)
        job = start_job("addHost", "apps.infra.jobs.connect_host", user=user, target=host,
                        params={"host_uuid": str(host.uuid), "adding": True}, timeout=900)
    return job


def _create_host(*, password="", **fields):
    unknown = set(fields) - set(HOST_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown field {sorted(unknown)[0]}.", field=sorted(unknown)[0])
    host = Host(**fields)
    _host_with_password(host, password)
    host.status = HostStatus.CONNECTING
    host.full_clean()
    host.save()
    return host


@operation("updateHost", target="host")
def update_host(host, password=None, **fields):
    _host_with_password(host, password)
    return update_object(host, fields, frozen=("cluster", "management_ip"))


def reconnect_host(host, *, user=None, accept_new_host_key=False):
    """Connect the host again (the same job as adding it); `accept_new_host_key` after a reinstall."""
    return start_job("reconnectHost", "apps.infra.jobs.connect_host", user=user, target=host,
                     params={"host_uuid": str(host.uuid), "accept_new_host_key": bool(accept_new_host_key)},
                     timeout=900)


def delete_host(host, *, user=None):
    """Start the job that forgets the host and stops and disables its agent; the Job is returned.

    Refused at once (409, naming what uses it) while something still uses the host. Its virtual routers
    are no such thing: the job moves them to another connected host of its cluster (or deletes those no
    VM uses any more); a router that serves VMs and has nowhere to go refuses the delete. A sandbox host's
    namespace goes with it (it exists only for Nimbo).
    """
    from apps.vrouter.models import VirtualRouter
    from apps.vrouter.routers import check_leave_host

    check_leave_host(host)
    # What a delete would refuse, checked now without deleting: the job deletes for real.
    try:
        Collector(using=router.db_for_write(Host)).collect([host])
    except ProtectedError as exc:
        if any(not isinstance(obj, VirtualRouter) for obj in exc.protected_objects):
            raise
    return start_job("deleteHost", "apps.infra.jobs.delete_host", user=user, target=host,
                     params={"host_uuid": str(host.uuid)}, timeout=300)


def start_realise_l2(l2, cluster, *, user=None):
    """The job that builds `l2`'s bridges on `cluster`'s hosts (call after attaching)."""
    return start_job("realiseL2Network", "apps.infra.jobs.realise_l2", user=user, target=l2,
                     params={"l2_uuid": str(l2.pk), "cluster_uuid": str(cluster.pk)})


def start_unrealise_l2(l2, cluster, *, user=None):
    """The job that removes `l2`'s unused bridges from `cluster`'s hosts (call after detaching)."""
    return start_job("unrealiseL2Network", "apps.infra.jobs.unrealise_l2", user=user, target=l2,
                     params={"l2_uuid": str(l2.pk), "cluster_uuid": str(cluster.pk)})


def create_cluster_and_attach(*, primary_storages=(), l2_networks=(), user=None, **fields):
    """The cluster wizard's Finish: create the cluster, then attach each chosen primary storage and L2
    network (each its own call, job and notification, as the API does). All or nothing: a refused
    attach undoes the cluster. Returns (cluster, [attach jobs]).
    """
    from apps.networks.services import attach_l2_network_to_cluster
    from apps.storage.services import attach_primary_storage

    with transaction.atomic():
        cluster = create_cluster(user=user, **fields)
        jobs = [attach_primary_storage(storage, cluster, user=user) for storage in primary_storages]
        for l2 in l2_networks:
            attach_l2_network_to_cluster(l2, cluster, user=user)
    return cluster, jobs
