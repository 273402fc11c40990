from apps.compute import services
from apps.compute.models import InstanceOffering
from apps.core.api.base import ServiceViewSet

from .serializers import InstanceOfferingSerializer


class InstanceOfferingViewSet(ServiceViewSet):
    queryset = InstanceOffering.objects.all()
    serializer_class = InstanceOfferingSerializer
    filterset_fields = ["name", "cpu_num", "allocator_strategy"]
    search_fields = ["name", "description"]
    ordering_fields = ["name", "cpu_num", "memory_size", "created"]
    create_service = services.create_instance_offering
    update_service = services.update_instance_offering
    delete_service = services.delete_instance_offering
