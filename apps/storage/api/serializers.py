from rest_framework import serializers

from apps.core.api.serializers import NimboModelSerializer
from apps.infra.models import Cluster, Zone
from apps.storage.models import BackupStorage, PrimaryStorage, Volume


class PrimaryStorageSerializer(NimboModelSerializer):
    zone = serializers.SlugRelatedField(slug_field="uuid", queryset=Zone.objects.all())
    zone_name = serializers.CharField(source="zone.name", read_only=True)
    clusters = serializers.SlugRelatedField(slug_field="uuid", many=True, read_only=True)

    class Meta:
        model = PrimaryStorage
        fields = ["uuid", "name", "description", "zone", "zone_name", "type", "url", "mount_point", "state",
                  "total_capacity", "available_capacity", "clusters", "created", "updated"]
        read_only_fields = ["mount_point", "total_capacity", "available_capacity"]


class PrimaryStorageClusterSerializer(serializers.Serializer):
    cluster = serializers.SlugRelatedField(slug_field="uuid", queryset=Cluster.objects.all())


class BackupStorageZoneSerializer(serializers.Serializer):
    zone = serializers.SlugRelatedField(slug_field="uuid", queryset=Zone.objects.all())


class BackupStorageSerializer(NimboModelSerializer):
    """Credentials go in (password, private_key) and never come out: only whether they are set."""

    password = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=False,
                                     style={"input_type": "password"})
    private_key = serializers.CharField(write_only=True, required=False, allow_blank=True, trim_whitespace=False)
    password_set = serializers.BooleanField(read_only=True)
    private_key_set = serializers.BooleanField(read_only=True)
    zones = serializers.SlugRelatedField(slug_field="uuid", many=True, required=False, queryset=Zone.objects.all())

    class Meta:
        model = BackupStorage
        fields = ["uuid", "name", "description", "type", "hostname", "ssh_port", "username", "password",
                  "private_key", "password_set", "private_key_set", "folder", "state", "status", "total_capacity",
                  "available_capacity", "zones", "created", "updated"]
        read_only_fields = ["status", "total_capacity", "available_capacity"]


class VolumeSerializer(NimboModelSerializer):
    primary_storage = serializers.SlugRelatedField(slug_field="uuid", queryset=PrimaryStorage.objects.all())
    image = serializers.SlugRelatedField(slug_field="uuid", read_only=True)
    host = serializers.SlugRelatedField(slug_field="uuid", read_only=True)
    vm_instance = serializers.SlugRelatedField(slug_field="uuid", read_only=True)

    class Meta:
        model = Volume
        fields = ["uuid", "name", "description", "type", "primary_storage", "host", "vm_instance", "image", "size",
                  "actual_size", "format", "install_path", "state", "created", "updated"]
        read_only_fields = ["type", "actual_size", "install_path", "state"]
