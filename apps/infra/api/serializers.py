from rest_framework import serializers

from apps.core.api.serializers import NimboModelSerializer
from apps.infra.models import Cluster, Zone


class ZoneSerializer(NimboModelSerializer):
    cluster_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Zone
        fields = ["uuid", "name", "description", "state", "cluster_count", "created", "updated"]


class ClusterSerializer(NimboModelSerializer):
    zone = serializers.SlugRelatedField(slug_field="uuid", queryset=Zone.objects.all())
    zone_name = serializers.CharField(source="zone.name", read_only=True)

    class Meta:
        model = Cluster
        fields = ["uuid", "name", "description", "zone", "zone_name", "hypervisor_type", "state", "created", "updated"]
