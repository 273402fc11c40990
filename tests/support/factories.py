"""Test data builders: make_zone(), make_cluster()... Each app's work adds its own here."""

from apps.compute.models import InstanceOffering
from apps.infra.models import Cluster, Zone

__all__ = ["make_zone", "make_cluster", "make_offering"]


def make_zone(name="ZONE1", **fields):
    return Zone.objects.create(name=name, **fields)


def make_cluster(zone=None, name="CLUSTER1", **fields):
    return Cluster.objects.create(zone=zone or make_zone(), name=name, **fields)


def make_offering(name="512M-512HZ", **fields):
    fields = {"cpu_num": 1, "cpu_speed": 512, "memory_size": 512 * 1024**2, **fields}
    return InstanceOffering.objects.create(name=name, **fields)
