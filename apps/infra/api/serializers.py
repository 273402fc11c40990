from rest_framework import serializers

from apps.core.api.serializers import NimboModelSerializer
from apps.infra.models import Cluster, Host, Zone


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


class HostSerializer(NimboModelSerializer):
    """A host; `password` is write-only (stored encrypted) and never shown."""

    cluster = serializers.SlugRelatedField(slug_field="uuid", queryset=Cluster.objects.all())
    cluster_name = serializers.CharField(source="cluster.name", read_only=True)
    hypervisor_type = serializers.CharField(source="cluster.hypervisor_type", read_only=True)
    password = serializers.CharField(write_only=True, required=False, trim_whitespace=False,
                                     style={"input_type": "password"})
    host_key_fingerprint = serializers.SerializerMethodField()

    class Meta:
        model = Host
        fields = [
            "uuid", "name", "description", "cluster", "cluster_name", "hypervisor_type", "management_ip",
            "ssh_port", "username", "password", "state", "status", "status_message", "cpu_num", "cpu_speed",
            "memory_size", "domain_type", "facts", "host_key_fingerprint", "last_heartbeat", "created", "updated",
        ]
        read_only_fields = ["status", "status_message", "cpu_num", "cpu_speed", "memory_size", "domain_type",
                            "facts", "last_heartbeat"]

    def get_host_key_fingerprint(self, obj) -> str:
        from apps.infra.ssh import fingerprint

        return fingerprint(obj.host_key) if obj.host_key else ""

    def validate(self, attrs):
        if self.instance is None and not attrs.get("password"):
            raise serializers.ValidationError({"password": "This field is required."}, code="required")
        return attrs


class ReconnectSerializer(serializers.Serializer):
    accept_new_host_key = serializers.BooleanField(default=False)
