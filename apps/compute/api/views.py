from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.compute import lifecycle, services
from apps.compute.models import InstanceOffering, VmInstance, VmNic
from apps.core.api.base import ServiceViewSet, job_accepted

from .serializers import (CreateVmSerializer, InstanceOfferingSerializer, StopVmSerializer, VmInstanceSerializer,
                          VmNicSerializer)


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

    queryset = VmInstance.objects.select_related(
        "instance_offering", "image", "zone", "cluster", "host").prefetch_related(
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
        fields = dict(data.validated_data)
        # The record is answered at once; placing and booting it is a job (state goes Starting -> Running),
        # started by the same call as the portal's New VM form.
        vm, _job = lifecycle.create_and_start_vm(user=request.user, **fields, **self.owner_fields())
        return Response(self.get_serializer(self._reread(vm)).data, status=201)

    @extend_schema(request=None, responses={202: None})
    @action(detail=True, methods=["post"])
    def start(self, request, uuid=None):
        return job_accepted(lifecycle.start_vm(self.get_object(), user=request.user))

    @extend_schema(request=StopVmSerializer, responses={202: None})
    @action(detail=True, methods=["post"])
    def stop(self, request, uuid=None):
        data = StopVmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return job_accepted(lifecycle.stop_vm(self.get_object(), user=request.user, **data.validated_data))

    @extend_schema(request=StopVmSerializer, responses={202: None})
    @action(detail=True, methods=["post"])
    def reboot(self, request, uuid=None):
        data = StopVmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return job_accepted(lifecycle.reboot_vm(self.get_object(), user=request.user, **data.validated_data))

    @extend_schema(request=None, responses={200: None})
    @action(detail=True, methods=["get"])
    def console(self, request, uuid=None):
        """The last lines of a libvirt guest's serial console, read on its host ("size" bytes, 16000 by default)."""
        from apps.compute.console import console_tail

        size = request.query_params.get("size", "16000")
        return Response({"console": console_tail(self.get_object(), size=size)})

    @extend_schema(request=None, responses={202: None})
    @action(detail=True, methods=["post"], url_path="destroy")
    def destroy_vm(self, request, uuid=None):
        """Stop the guest, remove it from its host and router, free its disk and addresses, delete the VM."""
        return job_accepted(lifecycle.destroy_vm(self.get_object(), user=request.user))


class VmNicViewSet(viewsets.ReadOnlyModelViewSet):
    lookup_field = "uuid"
    queryset = VmNic.objects.select_related("vm_instance", "l3_network").order_by("vm_instance__name", "device_index")
    serializer_class = VmNicSerializer
    filterset_fields = {"vm_instance": ["exact"], "l3_network": ["exact"], "ip": ["exact"], "mac": ["exact"]}
    search_fields = ["ip", "mac", "internal_name"]
