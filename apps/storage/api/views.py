from django.db import transaction
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.core.api.base import JobSerializer, ServiceViewSet, job_accepted
from apps.infra.models import Cluster, Zone
from apps.storage import services, volumes
from apps.storage.models import BackupStorage, PrimaryStorage, Volume

from .serializers import (BackupStorageSerializer, BackupStorageZoneSerializer, PrimaryStorageClusterSerializer,
                          PrimaryStorageSerializer, VolumeSerializer)


class PrimaryStorageViewSet(ServiceViewSet):
    queryset = PrimaryStorage.objects.select_related("zone").prefetch_related(
        Prefetch("clusters", queryset=Cluster.objects.only("uuid")))
    serializer_class = PrimaryStorageSerializer
    filterset_fields = ["name", "zone", "type", "state"]
    search_fields = ["name", "description", "url"]
    ordering_fields = ["name", "created"]
    create_service = services.create_primary_storage
    update_service = services.update_primary_storage
    delete_service = services.delete_primary_storage

    def _cluster(self, request):
        ref = PrimaryStorageClusterSerializer(data=request.data)
        ref.is_valid(raise_exception=True)
        return ref.validated_data["cluster"]

    @extend_schema(request=PrimaryStorageClusterSerializer, responses={202: JobSerializer})
    @action(detail=True, methods=["post"])
    def attach(self, request, uuid=None):
        """Attach to a cluster: a job mounts it on the cluster's connected hosts."""
        return job_accepted(services.attach_primary_storage(self.get_object(), self._cluster(request),
                                                            user=request.user))

    @extend_schema(request=PrimaryStorageClusterSerializer, responses={202: JobSerializer})
    @action(detail=True, methods=["post"])
    def detach(self, request, uuid=None):
        """Detach from a cluster: a job unmounts it from the cluster's hosts."""
        return job_accepted(services.detach_primary_storage(self.get_object(), self._cluster(request),
                                                            user=request.user))

    @extend_schema(request=None, responses={202: JobSerializer})
    @action(detail=True, methods=["post"])
    def reconnect(self, request, uuid=None):
        """Mount again on the hosts of its clusters and read the capacity anew."""
        return job_accepted(services.reconnect_primary_storage(self.get_object(), user=request.user))


class BackupStorageViewSet(ServiceViewSet):
    queryset = BackupStorage.objects.prefetch_related(Prefetch("zones", queryset=Zone.objects.only("uuid")))
    serializer_class = BackupStorageSerializer
    filterset_fields = ["name", "type", "state", "status", "zones"]
    search_fields = ["name", "description", "hostname", "folder"]
    ordering_fields = ["name", "created"]
    update_service = services.update_backup_storage
    delete_service = services.delete_backup_storage

    @extend_schema(responses={202: JobSerializer})
    def create(self, request, *args, **kwargs):
        """Add a backup storage: a job connects to it, checks the folder and reads its capacity."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():  # the job starts on commit: show the storage as it was added
            storage, job = services.add_backup_storage(user=request.user, **serializer.validated_data)
            data = self.get_serializer(self._reread(storage)).data
        response = job_accepted(job)
        response.data["backup_storage"] = data
        return response

    def _zone(self, request):
        ref = BackupStorageZoneSerializer(data=request.data)
        ref.is_valid(raise_exception=True)
        return ref.validated_data["zone"]

    @extend_schema(request=BackupStorageZoneSerializer, responses={200: BackupStorageSerializer})
    @action(detail=True, methods=["post"])
    def attach(self, request, uuid=None):
        storage = services.attach_backup_storage(self.get_object(), zone=self._zone(request), user=request.user)
        return Response(self.get_serializer(self._reread(storage)).data)

    @extend_schema(request=None, responses={202: JobSerializer})
    @action(detail=True, methods=["post"])
    def reconnect(self, request, uuid=None):
        """Log in again, check the folder and read the capacity anew."""
        return job_accepted(services.reconnect_backup_storage(self.get_object(), user=request.user))

    @extend_schema(request=BackupStorageZoneSerializer, responses={200: BackupStorageSerializer})
    @action(detail=True, methods=["post"])
    def detach(self, request, uuid=None):
        storage = services.detach_backup_storage(self.get_object(), zone=self._zone(request), user=request.user)
        return Response(self.get_serializer(self._reread(storage)).data)


class VolumeViewSet(ServiceViewSet):
    """Volumes: data volumes are created here (a job); root volumes come with their VM."""

    queryset = Volume.objects.select_related("primary_storage", "image", "host", "vm_instance")
    serializer_class = VolumeSerializer
    filterset_fields = ["name", "type", "state", "primary_storage", "image"]
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created", "size"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    update_service = volumes.update_volume

    @extend_schema(responses={202: JobSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            volume, job = volumes.start_create_data_volume(user=request.user, **serializer.validated_data,
                                                           **self.owner_fields())
            data = self.get_serializer(self._reread(volume)).data
        response = job_accepted(job)
        response.data["volume"] = data
        return response

    @extend_schema(responses={202: JobSerializer})
    def destroy(self, request, *args, **kwargs):
        return job_accepted(volumes.start_delete_volume(self.get_object(), user=request.user))
