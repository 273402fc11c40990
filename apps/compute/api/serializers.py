from apps.core.api.serializers import NimboModelSerializer
from apps.compute.models import InstanceOffering


class InstanceOfferingSerializer(NimboModelSerializer):
    class Meta:
        model = InstanceOffering
        fields = ["uuid", "name", "description", "cpu_num", "cpu_speed", "memory_size", "allocator_strategy",
                  "created", "updated"]
