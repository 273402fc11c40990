from rest_framework import serializers

from apps.compute.models import VmNic
from apps.core.api.serializers import NimboModelSerializer
from apps.images.models import Image
from apps.infra.models import Zone
from apps.networks.models import L3Network
from apps.vrouter.models import Eip, PortForwardingRule, VirtualRouterOffering, Vip

L3_QUERYSET = L3Network.objects.select_related("l2_network__zone")
NIC_QUERYSET = VmNic.objects.select_related("vm_instance", "l3_network__l2_network")


class VirtualRouterOfferingSerializer(NimboModelSerializer):
    zone = serializers.SlugRelatedField(slug_field="uuid", queryset=Zone.objects.all())
    image = serializers.SlugRelatedField(slug_field="uuid", queryset=Image.objects.all(), required=False,
                                         allow_null=True)
    management_l3 = serializers.SlugRelatedField(slug_field="uuid", queryset=L3_QUERYSET)
    public_l3 = serializers.SlugRelatedField(slug_field="uuid", queryset=L3_QUERYSET, required=False,
                                             allow_null=True)

    class Meta:
        model = VirtualRouterOffering
        fields = ["uuid", "name", "description", "zone", "cpu_num", "cpu_speed", "memory_size", "image",
                  "management_l3", "public_l3", "is_default", "created", "updated"]


class VipSerializer(NimboModelSerializer):
    l3_network = serializers.SlugRelatedField(slug_field="uuid", queryset=L3_QUERYSET)
    ip = serializers.IPAddressField(protocol="IPv4", required=False, allow_null=True,
                                    help_text="A specific address; empty: the next free one.")
    use_for = serializers.SerializerMethodField()

    class Meta:
        model = Vip
        fields = ["uuid", "name", "description", "l3_network", "ip", "netmask", "gateway", "state", "snat",
                  "use_for", "created", "updated"]
        read_only_fields = ["netmask", "gateway", "snat"]

    def get_use_for(self, obj) -> list[str]:
        uses = []
        if getattr(obj, "pf_count", 0):
            uses.append("PortForwarding")
        if getattr(obj, "has_eip", False):
            uses.append("Eip")
        if obj.snat:
            uses.append("SNAT")
        return uses


class VmNicRefSerializer(serializers.Serializer):
    vm_nic = serializers.SlugRelatedField(slug_field="uuid", queryset=NIC_QUERYSET)


class PortForwardingRuleSerializer(NimboModelSerializer):
    vip = serializers.SlugRelatedField(slug_field="uuid", queryset=Vip.objects.select_related("l3_network"))
    vip_ip = serializers.CharField(source="vip.ip", read_only=True)
    vm_nic = serializers.SlugRelatedField(slug_field="uuid", queryset=NIC_QUERYSET, required=False, allow_null=True)
    vm_instance = serializers.UUIDField(source="vm_nic.vm_instance_id", read_only=True, allow_null=True)
    guest_ip = serializers.CharField(source="vm_nic.ip", read_only=True, allow_null=True)

    class Meta:
        model = PortForwardingRule
        fields = ["uuid", "name", "description", "vip", "vip_ip", "protocol", "vip_port_start", "vip_port_end",
                  "guest_port_start", "guest_port_end", "allowed_cidr", "state", "vm_nic", "vm_instance", "guest_ip",
                  "created", "updated"]


class AttachableNicSerializer(serializers.ModelSerializer):
    vm_instance = serializers.UUIDField(source="vm_instance_id", read_only=True)
    vm_instance_name = serializers.CharField(source="vm_instance.name", read_only=True)
    l3_network = serializers.UUIDField(source="l3_network_id", read_only=True)
    l3_network_name = serializers.CharField(source="l3_network.name", read_only=True)

    class Meta:
        model = VmNic
        fields = ["uuid", "vm_instance", "vm_instance_name", "l3_network", "l3_network_name", "ip", "mac"]


class EipSerializer(NimboModelSerializer):
    vip = serializers.SlugRelatedField(slug_field="uuid", queryset=Vip.objects.select_related("l3_network"))
    vip_ip = serializers.CharField(source="vip.ip", read_only=True)
    vm_nic = serializers.SlugRelatedField(slug_field="uuid", queryset=NIC_QUERYSET, required=False, allow_null=True)
    vm_instance = serializers.UUIDField(source="vm_nic.vm_instance_id", read_only=True, allow_null=True)
    guest_ip = serializers.CharField(source="vm_nic.ip", read_only=True, allow_null=True)

    class Meta:
        model = Eip
        fields = ["uuid", "name", "description", "vip", "vip_ip", "vm_nic", "vm_instance", "guest_ip", "state",
                  "created", "updated"]
