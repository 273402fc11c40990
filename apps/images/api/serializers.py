from rest_framework import serializers

from apps.core.api.serializers import NimboModelSerializer
from apps.images.models import Image, ImageBackupStorageRef, ImageCache
from apps.storage.models import BackupStorage


class ImageCopySerializer(serializers.ModelSerializer):
    backup_storage = serializers.SlugRelatedField(slug_field="uuid", read_only=True)
    backup_storage_name = serializers.CharField(source="backup_storage.name", read_only=True)

    class Meta:
        model = ImageBackupStorageRef
        fields = ["backup_storage", "backup_storage_name", "state", "install_path", "error"]
        read_only_fields = fields


class ImageCacheSerializer(serializers.ModelSerializer):
    primary_storage = serializers.SlugRelatedField(slug_field="uuid", read_only=True)

    class Meta:
        model = ImageCache
        fields = ["primary_storage", "state", "install_path", "size"]
        read_only_fields = fields


class ImageSerializer(NimboModelSerializer):
    backup_storages = serializers.SlugRelatedField(slug_field="uuid", many=True, queryset=BackupStorage.objects.all())
    copies = ImageCopySerializer(many=True, read_only=True)
    caches = ImageCacheSerializer(many=True, read_only=True)
    project = serializers.SlugRelatedField(slug_field="uuid", read_only=True)

    class Meta:
        model = Image
        fields = ["uuid", "name", "description", "url", "format", "media_type", "platform", "system", "state",
                  "actual_size", "virtual_size", "sha256", "backup_storages", "copies", "caches", "project", "shared",
                  "created", "updated"]
        read_only_fields = ["state", "actual_size", "virtual_size", "sha256"]


class ImageUpdateSerializer(ImageSerializer):
    backup_storages = serializers.SlugRelatedField(slug_field="uuid", many=True, read_only=True)

    class Meta(ImageSerializer.Meta):
        read_only_fields = [*ImageSerializer.Meta.read_only_fields, "url", "format", "media_type"]
