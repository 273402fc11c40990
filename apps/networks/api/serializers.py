from rest_framework import serializers

from apps.core.api.serializers import NimboModelSerializer
from apps.infra.models import Cluster, Zone
from apps.networks.choices import ServiceType
from apps.networks.models import IpRange, L2Network, L3Network, UsedIp


class L2NetworkSerializer(NimboModelSerializer):
    zone = serializers.SlugRelatedField(slug_field="uuid", queryset=Zone.objects.all())
    zone_name = serializers.CharField(source="zone.name", read_only=True)
    attached_clusters = serializers.SlugRelatedField(source="clusters", slug_field="uuid", many=True, read_only=True)
    bridge_name = serializers.CharField(read_only=True)
    vlan_interface = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = L2Network
        fields = ["uuid", "name", "description", "zone", "zone_name", "type", "physical_interface", "vlan",
                  "bridge_name", "vlan_interface", "attached_clusters", "created", "updated"]


class ClusterRefSerializer(serializers.Serializer):
    cluster = serializers.SlugRelatedField(slug_field="uuid", queryset=Cluster.objects.select_related("zone"))


class IpRangeSerializer(NimboModelSerializer):
    l3_network = serializers.SlugRelatedField(slug_field="uuid", read_only=True)
    network_cidr = serializers.CharField(read_only=True)

    class Meta:
        model = IpRange
        fields = ["uuid", "name", "description", "l3_network", "start_ip", "end_ip", "netmask", "gateway",
                  "network_cidr", "created", "updated"]
        read_only_fields = ["start_ip", "end_ip", "netmask", "gateway"]


class AddIpRangeSerializer(serializers.Serializer):
    """By range (start_ip, end_ip, netmask, gateway) or by network_cidr."""

    name = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    start_ip = serializers.IPAddressField(protocol="IPv4", required=False)
    end_ip = serializers.IPAddressField(protocol="IPv4", required=False)
    netmask = serializers.CharField(required=False)
    gateway = serializers.IPAddressField(protocol="IPv4", required=False)
    network_cidr = serializers.CharField(required=False)


class UsedIpSerializer(serializers.ModelSerializer):
    ip_range = serializers.SlugRelatedField(slug_field="uuid", read_only=True)

    class Meta:
        model = UsedIp
        fields = ["uuid", "ip", "ip_range", "owner_type", "owner_uuid", "created"]


class NetworkServiceRefSerializer(serializers.Serializer):
    provider = serializers.CharField()
    service_type = serializers.CharField()


class L3NetworkSerializer(NimboModelSerializer):
    l2_network = serializers.SlugRelatedField(slug_field="uuid", queryset=L2Network.objects.select_related("zone"))
    l2_network_name = serializers.CharField(source="l2_network.name", read_only=True)
    zone = serializers.UUIDField(source="l2_network.zone_id", read_only=True)
    dns = serializers.SerializerMethodField()
    network_services = NetworkServiceRefSerializer(many=True, read_only=True)
    ip_ranges = IpRangeSerializer(many=True, read_only=True)
    project = serializers.SlugRelatedField(slug_field="uuid", read_only=True)

    class Meta:
        model = L3Network
        fields = ["uuid", "name", "description", "l2_network", "l2_network_name", "zone", "type", "system",
                  "dns_domain", "dns", "network_services", "ip_ranges", "project", "shared", "created", "updated"]

    def get_dns(self, obj) -> list[str]:
        return obj.dns_addresses()


class DnsSerializer(serializers.Serializer):
    dns = serializers.IPAddressField()


class AttachServicesSerializer(serializers.Serializer):
    services = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                     help_text='{"VirtualRouter": ["DHCP", "DNS"], "SecurityGroup": ["SecurityGroup"]}')


class DetachServiceSerializer(serializers.Serializer):
    service_type = serializers.ChoiceField(choices=ServiceType.choices)
