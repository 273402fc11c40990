from django.db.models import Count

from apps.core.api.base import ServiceViewSet
from apps.infra import services
from apps.infra.models import Cluster, Zone

from .serializers import ClusterSerializer, ZoneSerializer


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
