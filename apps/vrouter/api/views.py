from django.db.models import Count, Exists, OuterRef
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.core.api.base import ServiceViewSet
from apps.vrouter import services
from apps.vrouter.models import Eip, PortForwardingRule, VirtualRouterOffering, Vip

from .serializers import (
    AttachableNicSerializer,
    EipSerializer,
    PortForwardingRuleSerializer,
    VipSerializer,
    VirtualRouterOfferingSerializer,
    VmNicRefSerializer,
)


def _nic(request):
    data = VmNicRefSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data["vm_nic"]


class VirtualRouterOfferingViewSet(ServiceViewSet):
    queryset = VirtualRouterOffering.objects.select_related("zone", "image", "management_l3", "public_l3")
    serializer_class = VirtualRouterOfferingSerializer
    filterset_fields = {"name": ["exact"], "zone": ["exact"], "is_default": ["exact"], "management_l3": ["exact"],
                        "public_l3": ["exact"]}
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created"]
    create_service = services.create_vr_offering
    update_service = services.update_vr_offering
    delete_service = services.delete_vr_offering


class VipViewSet(ServiceViewSet):
    queryset = Vip.objects.select_related("l3_network").annotate(
        pf_count=Count("port_forwarding_rules"), has_eip=Exists(Eip.objects.filter(vip=OuterRef("pk"))))
    serializer_class = VipSerializer
    filterset_fields = {"name": ["exact"], "l3_network": ["exact"], "ip": ["exact"], "state": ["exact"],
                        "snat": ["exact"]}
    search_fields = ["name", "description", "ip"]
    ordering_fields = ["name", "ip", "created"]
    create_service = services.create_vip
    update_service = services.update_vip
    delete_service = services.delete_vip


class _NicActions:
    attach_service = detach_service = None

    def _respond(self, obj):
        return Response(self.get_serializer(self._reread(obj)).data)

    @extend_schema(request=VmNicRefSerializer)
    @action(detail=True, methods=["post"])
    def attach(self, request, uuid=None):
        """Attach to a VM NIC: {"vm_nic": uuid}."""
        return self._respond(type(self).attach_service(self.get_object(), vm_nic=_nic(request), user=request.user))

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def detach(self, request, uuid=None):
        """Detach from its VM NIC (the object stays, bound to nothing)."""
        return self._respond(type(self).detach_service(self.get_object(), user=request.user))


class PortForwardingRuleViewSet(_NicActions, ServiceViewSet):
    queryset = PortForwardingRule.objects.select_related("vip", "vm_nic")
    serializer_class = PortForwardingRuleSerializer
    filterset_fields = {"name": ["exact"], "vip": ["exact"], "protocol": ["exact"], "state": ["exact"],
                        "vm_nic": ["exact", "isnull"], "vm_nic__vm_instance": ["exact"]}
    search_fields = ["name", "description"]
    ordering_fields = ["name", "vip_port_start", "created"]
    create_service = services.create_port_forwarding_rule
    update_service = services.update_port_forwarding_rule
    delete_service = services.delete_port_forwarding_rule
    attach_service = services.attach_port_forwarding_rule
    detach_service = services.detach_port_forwarding_rule

    @extend_schema(responses=AttachableNicSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="attachable-nics")
    def attachable_nics(self, request, uuid=None):
        """The VM NICs this rule can be attached to (paginated)."""
        page = self.paginate_queryset(self.access.scope(services.attachable_nics(self.get_object())))
        return self.get_paginated_response(AttachableNicSerializer(page, many=True).data)


class EipViewSet(_NicActions, ServiceViewSet):
    queryset = Eip.objects.select_related("vip", "vm_nic")
    serializer_class = EipSerializer
    filterset_fields = {"name": ["exact"], "vip": ["exact"], "state": ["exact"], "vm_nic": ["exact", "isnull"]}
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created"]
    create_service = services.create_eip
    update_service = services.update_eip
    delete_service = services.delete_eip
    attach_service = services.attach_eip
    detach_service = services.detach_eip
