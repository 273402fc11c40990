"""Operations on zones and clusters: the only place their state changes."""

from apps.core.jobs import operation
from apps.core.services import create_object, delete_object, update_object

from .models import Cluster, Zone


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
