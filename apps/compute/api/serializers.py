from rest_framework import serializers

from apps.compute.choices import GuestKind
from apps.compute.models import InstanceOffering, VmInstance, VmNic
from apps.core.api.serializers import NimboModelSerializer
from apps.images.models import Image
from apps.networks.models import L3Network


class InstanceOfferingSerializer(NimboModelSerializer):
    class Meta:
        model = InstanceOffering
        fields = ["uuid", "name", "description", "cpu_num", "cpu_speed", "memory_size", "allocator_strategy",
                  "created", "updated"]


class VmNicSerializer(serializers.ModelSerializer):
    vm_instance = serializers.SlugRelatedField(slug_field="uuid", read_only=True)
    l3_network = serializers.SlugRelatedField(slug_field="uuid", read_only=True)
    l3_network_name = serializers.CharField(source="l3_network.name", read_only=True)

    class Meta:
        model = VmNic
        fields = ["uuid", "vm_instance", "l3_network", "l3_network_name", "ip", "netmask", "gateway", "mac",
                  "device_index", "internal_name", "created", "updated"]
        read_only_fields = fields


class VmInstanceSerializer(NimboModelSerializer):
    instance_offering = serializers.SlugRelatedField(slug_field="uuid", read_only=True)
    image = serializers.SlugRelatedField(slug_field="uuid", read_only=True)
    zone = serializers.SlugRelatedField(slug_field="uuid", read_only=True)
    cluster = serializers.SlugRelatedField(slug_field="uuid", read_only=True)
    host = serializers.SlugRelatedField(slug_field="uuid", read_only=True)
    nics = VmNicSerializer(many=True, read_only=True)

    class Meta:
        model = VmInstance
        fields = ["uuid", "name", "description", "hostname", "type", "guest_kind", "state", "instance_offering",
                  "image", "zone", "cluster", "host", "nics", "created", "updated"]
        read_only_fields = ["type", "guest_kind", "state"]


class CreateVmSerializer(serializers.Serializer):
    """A VM record with one NIC per L3 network (addresses and MACs allocated; nothing boots)."""

    name = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    hostname = serializers.CharField(required=False, allow_blank=True, default="", max_length=63)
    instance_offering = serializers.SlugRelatedField(slug_field="uuid", queryset=InstanceOffering.objects.all())
    image = serializers.SlugRelatedField(slug_field="uuid", queryset=Image.objects.all())
    l3_networks = serializers.SlugRelatedField(slug_field="uuid", many=True,
                                               queryset=L3Network.objects.select_related("l2_network__zone"))
    static_ips = serializers.DictField(child=serializers.IPAddressField(protocol="IPv4"), required=False,
                                       help_text="{L3 network uuid: address}")
    guest_kind = serializers.ChoiceField(choices=GuestKind.choices, required=False, default=GuestKind.LIBVIRT)
    start = serializers.BooleanField(required=False, default=True, help_text="Place and boot it at once (a job).")


class StopVmSerializer(serializers.Serializer):
    timeout = serializers.IntegerField(required=False, default=30, min_value=0, max_value=3600,
                                       help_text="Seconds to wait for a graceful shutdown before forcing it.")
