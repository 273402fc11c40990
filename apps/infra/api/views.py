from django.db.models import Count
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action

from apps.core.api.base import JobSerializer, ServiceViewSet, job_accepted
from apps.infra import services
from apps.infra.models import Cluster, Host, Zone

from .serializers import ClusterSerializer, HostSerializer, ReconnectSerializer, ZoneSerializer


class ZoneViewSet(ServiceViewSet):
    queryset = Zone.objects.annotate(cluster_count=Count("clusters"))
    serializer_class = ZoneSerializer
    filterset_fields = ["name", "state"]
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created"]
    create_service = services.create_zone
    update_service = services.update_zone
    delete_service = services.delete_zone


class ClusterViewSet(ServiceViewSet):
    queryset = Cluster.objects.select_related("zone")
    serializer_class = ClusterSerializer
    filterset_fields = {"name": ["exact"], "zone": ["exact"], "hypervisor_type": ["exact"], "state": ["exact"]}
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created"]
    create_service = services.create_cluster
    update_service = services.update_cluster
    delete_service = services.delete_cluster


class HostViewSet(ServiceViewSet):
    """Adding a host answers 202 with the job that connects it; so do reconnect and delete."""

    queryset = Host.objects.select_related("cluster")
    serializer_class = HostSerializer
    filterset_fields = {"name": ["exact"], "cluster": ["exact"], "status": ["exact"], "state": ["exact"],
                        "management_ip": ["exact"]}
    search_fields = ["name", "description", "management_ip"]
    ordering_fields = ["name", "created", "status"]
    update_service = services.update_host
    delete_service = services.delete_host

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return job_accepted(services.add_host(user=request.user, **serializer.validated_data))

    @extend_schema(responses={202: JobSerializer})
    def destroy(self, request, *args, **kwargs):
        """202 with the job that forgets the host and stops its agent (409 while something uses it)."""
        return job_accepted(services.delete_host(self.get_object(), user=request.user))

    @extend_schema(request=ReconnectSerializer, responses={202: None})
    @action(detail=True, methods=["post"])
    def reconnect(self, request, uuid=None):
        params = ReconnectSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        return job_accepted(services.reconnect_host(self.get_object(), user=request.user, **params.validated_data))
