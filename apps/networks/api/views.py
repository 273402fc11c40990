from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.core.api.base import ServiceViewSet
from apps.networks import services
from apps.networks.models import IpRange, L2Network, L3Network, UsedIp

from .serializers import (
    AddIpRangeSerializer,
    AttachServicesSerializer,
    ClusterRefSerializer,
    DetachServiceSerializer,
    DnsSerializer,
    IpRangeSerializer,
    L2NetworkSerializer,
    L3NetworkSerializer,
    UsedIpSerializer,
)


def _input(serializer_class, request):
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class L2NetworkViewSet(ServiceViewSet):
    queryset = L2Network.objects.select_related("zone").prefetch_related("clusters")
    serializer_class = L2NetworkSerializer
    filterset_fields = {"name": ["exact"], "zone": ["exact"], "type": ["exact"], "physical_interface": ["exact"],
                        "vlan": ["exact"], "clusters": ["exact"]}
    search_fields = ["name", "description", "physical_interface"]
    ordering_fields = ["name", "created", "vlan"]
    create_service = services.create_l2_network
    update_service = services.update_l2_network
    delete_service = services.delete_l2_network

    def _cluster_action(self, request, service):
        l2 = self.get_object()
        service(l2, cluster=_input(ClusterRefSerializer, request)["cluster"], user=request.user)
        return Response(self.get_serializer(self._reread(l2)).data)

    @extend_schema(request=ClusterRefSerializer, responses=L2NetworkSerializer)
    @action(detail=True, methods=["post"])
    def attach(self, request, uuid=None):
        """attachL2NetworkToCluster."""
        return self._cluster_action(request, services.attach_l2_network_to_cluster)

    @extend_schema(request=ClusterRefSerializer, responses=L2NetworkSerializer)
    @action(detail=True, methods=["post"])
    def detach(self, request, uuid=None):
        """detachL2NetworkFromCluster."""
        return self._cluster_action(request, services.detach_l2_network_from_cluster)


class L3NetworkViewSet(ServiceViewSet):
    queryset = L3Network.objects.select_related("l2_network").prefetch_related(
        "dns_servers", "network_services", Prefetch("ip_ranges", queryset=IpRange.objects.select_related("l3_network")))
    serializer_class = L3NetworkSerializer
    filterset_fields = {"name": ["exact"], "l2_network": ["exact"], "l2_network__zone": ["exact"],
                        "system": ["exact"], "type": ["exact"], "network_services__service_type": ["exact"]}
    search_fields = ["name", "description", "dns_domain"]
    ordering_fields = ["name", "created"]
    create_service = services.create_l3_network
    update_service = services.update_l3_network
    delete_service = services.delete_l3_network

    def get_queryset(self):
        return super().get_queryset().distinct()

    def _respond(self, l3):
        return Response(self.get_serializer(self._reread(l3)).data)

    @extend_schema(request=AddIpRangeSerializer, responses={201: IpRangeSerializer})
    @action(detail=True, methods=["post"], url_path="ip-ranges")
    def ip_ranges(self, request, uuid=None):
        """addIpRange (by start/end/netmask/gateway or by network_cidr)."""
        ip_range = services.add_ip_range(self.get_object(), user=request.user, **_input(AddIpRangeSerializer, request))
        return Response(IpRangeSerializer(ip_range).data, status=201)

    @extend_schema(request=DnsSerializer, responses=L3NetworkSerializer)
    @action(detail=True, methods=["post"])
    def dns(self, request, uuid=None):
        """addDnsToL3Network."""
        return self._respond(services.add_dns(self.get_object(), user=request.user, **_input(DnsSerializer, request)))

    @extend_schema(request=DnsSerializer, responses=L3NetworkSerializer)
    @action(detail=True, methods=["post"], url_path="remove-dns")
    def remove_dns(self, request, uuid=None):
        """removeDnsFromL3Network."""
        return self._respond(services.remove_dns(self.get_object(), user=request.user,
                                                 **_input(DnsSerializer, request)))

    @extend_schema(request=AttachServicesSerializer, responses=L3NetworkSerializer)
    @action(detail=True, methods=["post"], url_path="network-services")
    def network_services(self, request, uuid=None):
        """attachNetworkServiceToL3Network: {"services": {provider: [types]}}."""
        return self._respond(services.attach_network_services(self.get_object(), user=request.user,
                                                              services=request.data.get("services")))

    @extend_schema(request=DetachServiceSerializer, responses=L3NetworkSerializer)
    @action(detail=True, methods=["post"], url_path="detach-network-service")
    def detach_network_service(self, request, uuid=None):
        """detachNetworkServiceFromL3Network."""
        return self._respond(services.detach_network_service(self.get_object(), user=request.user,
                                                             **_input(DetachServiceSerializer, request)))

    @extend_schema(responses=UsedIpSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="used-ips")
    def used_ips(self, request, uuid=None):
        """The addresses handed out on this network (paginated)."""
        queryset = UsedIp.objects.filter(l3_network=self.get_object()).select_related("ip_range").order_by("ip_int")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(UsedIpSerializer(page, many=True).data)


class IpRangeViewSet(mixins.RetrieveModelMixin, mixins.ListModelMixin, mixins.UpdateModelMixin,
                     mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """IP ranges are added on their L3 network (POST /l3-networks/{uuid}/ip-ranges/)."""

    lookup_field = "uuid"
    queryset = IpRange.objects.select_related("l3_network").order_by("l3_network__name", "start_int")
    serializer_class = IpRangeSerializer
    filterset_fields = {"name": ["exact"], "l3_network": ["exact"]}
    search_fields = ["name", "description", "start_ip"]

    def perform_update(self, serializer):
        services.update_ip_range(serializer.instance, user=self.request.user, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.delete_ip_range(instance, user=self.request.user)
