from django.db import transaction
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from apps.core.api.base import JobSerializer, ServiceViewSet, job_accepted
from apps.images import services
from apps.images.models import Image, ImageBackupStorageRef, ImageCache
from apps.storage.models import BackupStorage

from .serializers import ImageSerializer, ImageUpdateSerializer


class ImageViewSet(ServiceViewSet):
    queryset = Image.objects.prefetch_related(
        Prefetch("backup_storages", queryset=BackupStorage.objects.only("uuid")),
        Prefetch("copies", queryset=ImageBackupStorageRef.objects.select_related("backup_storage")),
        Prefetch("caches", queryset=ImageCache.objects.select_related("primary_storage")),
    )
    serializer_class = ImageSerializer
    filterset_fields = ["name", "format", "media_type", "platform", "system", "state"]
    search_fields = ["name", "description", "url"]
    ordering_fields = ["name", "created"]
    update_service = services.update_image

    def get_serializer_class(self):
        return ImageUpdateSerializer if self.action in ("update", "partial_update") else ImageSerializer

    @extend_schema(responses={202: JobSerializer})
    def create(self, request, *args, **kwargs):
        """Add an image: one download job per backup storage (progress on /ws/events/)."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():  # the jobs start on commit: show the image as it was added
            image, jobs = services.add_image(user=request.user, **serializer.validated_data,
                                             **self.owner_fields(serializer.validated_data))
            data = self.get_serializer(self._reread(image)).data
        response = job_accepted(jobs[0])
        response.data["jobs"] = JobSerializer(jobs, many=True).data
        response.data["image"] = data
        return response

    @extend_schema(responses={202: JobSerializer})
    def destroy(self, request, *args, **kwargs):
        """Delete an image not in use (409 otherwise): a job removes its files."""
        job = services.delete_image(self.get_object(), user=request.user)
        return job_accepted(job) if job else Response(status=status.HTTP_204_NO_CONTENT)
