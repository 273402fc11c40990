from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.response import Response

from apps.compute import services
from apps.compute.models import InstanceOffering, VmInstance, VmNic
from apps.core.api.base import ServiceViewSet

from .serializers import CreateVmSerializer, InstanceOfferingSerializer, VmInstanceSerializer, VmNicSerializer


class InstanceOfferingViewSet(ServiceViewSet):
    queryset = InstanceOffering.objects.all()
    serializer_class = InstanceOfferingSerializer
    filterset_fields = ["name", "cpu_num", "allocator_strategy"]
    search_fields = ["name", "description"]
    ordering_fields = ["name", "cpu_num", "memory_size", "created"]
    create_service = services.create_instance_offering
    update_service = services.update_instance_offering
    delete_service = services.delete_instance_offering


class VmInstanceViewSet(ServiceViewSet):
    """VM records. POST records a VM with its NICs in state Created (the lifecycle boots it)."""

    queryset = VmInstance.objects.select_related("instance_offering", "image", "zone", "cluster", "host").prefetch_related(
        Prefetch("nics", queryset=VmNic.objects.select_related("l3_network", "vm_instance")))
    serializer_class = VmInstanceSerializer
    filterset_fields = {"name": ["exact"], "zone": ["exact"], "cluster": ["exact"], "host": ["exact"],
                        "state": ["exact", "in"], "type": ["exact"], "nics__l3_network": ["exact"]}
    search_fields = ["name", "description", "hostname"]
    ordering_fields = ["name", "created", "state"]
    update_service = services.update_vm
    delete_service = services.delete_vm

    def get_queryset(self):
        return super().get_queryset().distinct()

    @extend_schema(request=CreateVmSerializer, responses={201: VmInstanceSerializer})
    def create(self, request, *args, **kwargs):
        data = CreateVmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        vm = services.create_vm(user=request.user, **data.validated_data)
        return Response(self.get_serializer(self._reread(vm)).data, status=201)


class VmNicViewSet(viewsets.ReadOnlyModelViewSet):
    lookup_field = "uuid"
    queryset = VmNic.objects.select_related("vm_instance", "l3_network").order_by("vm_instance__name", "device_index")
    serializer_class = VmNicSerializer
    filterset_fields = {"vm_instance": ["exact"], "l3_network": ["exact"], "ip": ["exact"], "mac": ["exact"]}
    search_fields = ["ip", "mac", "internal_name"]
