"""Security groups and their rules in both forms.

One stored rule, two serialisations:
- Neutron's (`/api/v1/security-group-rules/`, and `rules` inside a group): direction, ethertype,
  protocol (name, number or null = any), port_range_min/max, remote_ip_prefix, remote_group_id.
- ZStack's (`/api/v1/security-groups/{uuid}/rules/`): type Ingress/Egress, protocol
  TCP/UDP/ICMP/ALL, start_port/end_port (ICMP type/code; -1 = any), allowed_cidr (empty = any),
  remote_security_group_uuid, ip_version 4/6.
"""

from rest_framework import serializers

from apps.core.api.serializers import NimboModelSerializer
from apps.networks.models import L3Network
from apps.secgroups.choices import (ICMP_PROTOCOLS, ZSTACK_IP_VERSIONS, ZSTACK_PROTOCOLS, ZSTACK_TYPES, Direction,
                                    Ethertype, protocol_label)
from apps.secgroups.models import SecurityGroup, SecurityGroupRule
from apps.secgroups.validation import parse_protocol

NEUTRON_TO_ZSTACK_FIELDS = {
    "direction": "type", "ethertype": "ip_version", "protocol": "protocol", "port_range_min": "start_port",
    "port_range_max": "end_port", "remote_ip_prefix": "allowed_cidr", "remote_group_id": "remote_security_group_uuid",
    "remote_group": "remote_security_group_uuid",
}


class RuleSerializer(serializers.ModelSerializer):
    """A rule in Neutron's form."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    security_group_id = serializers.SlugRelatedField(source="security_group", slug_field="uuid",
                                                     queryset=SecurityGroup.objects.all())
    direction = serializers.ChoiceField(choices=Direction.choices, default=Direction.INGRESS)
    ethertype = serializers.ChoiceField(choices=Ethertype.choices, required=False)
    protocol = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    port_range_min = serializers.IntegerField(required=False, allow_null=True)
    port_range_max = serializers.IntegerField(required=False, allow_null=True)
    remote_ip_prefix = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=43)
    remote_group_id = serializers.SlugRelatedField(source="remote_group", slug_field="uuid", required=False,
                                                   allow_null=True, queryset=SecurityGroup.objects.all())

    class Meta:
        model = SecurityGroupRule
        fields = ["id", "security_group_id", "direction", "ethertype", "protocol", "port_range_min",
                  "port_range_max", "remote_ip_prefix", "remote_group_id", "description", "created", "updated"]

    def get_validators(self):
        return []

    def to_representation(self, rule):
        data = super().to_representation(rule)
        data["protocol"] = None if rule.protocol is None else protocol_label(rule.protocol)
        data["remote_ip_prefix"] = rule.remote_ip_prefix or None
        return data

    def validate_protocol(self, value):
        from django.core.exceptions import ValidationError

        try:
            return parse_protocol(value)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["protocol"][0]) from exc

    def validate(self, attrs):
        attrs["remote_ip_prefix"] = (attrs.get("remote_ip_prefix") or "").strip()
        if not attrs.get("ethertype"):
            # Neutron: the ethertype follows the prefix when only the prefix is given.
            attrs["ethertype"] = Ethertype.IPV6 if ":" in attrs["remote_ip_prefix"] else Ethertype.IPV4
        return attrs


class ZStackRuleSerializer(serializers.Serializer):
    """A rule in ZStack's form (read and write); stored as the same rule."""

    uuid = serializers.UUIDField(read_only=True)
    security_group_uuid = serializers.UUIDField(source="security_group_id", read_only=True)
    type = serializers.ChoiceField(choices=list(ZSTACK_TYPES))
    protocol = serializers.CharField()
    start_port = serializers.IntegerField(required=False, default=-1)
    end_port = serializers.IntegerField(required=False, default=-1)
    allowed_cidr = serializers.CharField(required=False, allow_blank=True, default="", max_length=43)
    remote_security_group_uuid = serializers.SlugRelatedField(slug_field="uuid", required=False, allow_null=True,
                                                              queryset=SecurityGroup.objects.all())
    ip_version = serializers.ChoiceField(choices=[4, 6], default=4)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    created = serializers.DateTimeField(read_only=True)

    def to_representation(self, rule):
        if rule.protocol is None:
            protocol = "ALL"
        elif rule.protocol in ICMP_PROTOCOLS:
            protocol = "ICMP"
        else:
            protocol = {6: "TCP", 17: "UDP"}.get(rule.protocol, str(rule.protocol))
        return {
            "uuid": str(rule.uuid),
            "security_group_uuid": str(rule.security_group_id),
            "type": "Ingress" if rule.direction == Direction.INGRESS else "Egress",
            "protocol": protocol,
            "start_port": -1 if rule.port_range_min is None else rule.port_range_min,
            "end_port": -1 if rule.port_range_max is None else rule.port_range_max,
            "allowed_cidr": rule.remote_ip_prefix,
            "remote_security_group_uuid": str(rule.remote_group_id) if rule.remote_group_id else None,
            "ip_version": 6 if rule.ethertype == Ethertype.IPV6 else 4,
            "description": rule.description,
            "created": serializers.DateTimeField().to_representation(rule.created),
        }

    def validate_protocol(self, value):
        upper = str(value).upper()
        if upper not in ZSTACK_PROTOCOLS:
            raise serializers.ValidationError(f'"{value}" is not a valid protocol: use TCP, UDP, ICMP or ALL.')
        return upper

    def validate(self, attrs):
        """To the stored (neutral) fields. -1 means any; ALL takes no ports."""
        proto = ZSTACK_PROTOCOLS[attrs["protocol"]]
        ethertype = ZSTACK_IP_VERSIONS[attrs["ip_version"]]
        if proto == 1 and ethertype == Ethertype.IPV6:
            proto = 58
        lo, hi = attrs["start_port"], attrs["end_port"]
        if proto is None and (lo != -1 or hi != -1):
            raise serializers.ValidationError({"start_port": "Protocol ALL takes no ports: leave start_port and "
                                                             "end_port at -1."})
        if proto in (6, 17) and (lo == -1 or hi == -1):
            raise serializers.ValidationError({"start_port": "TCP and UDP rules need start_port and end_port "
                                                             "(1-65535)."})
        return {
            "direction": ZSTACK_TYPES[attrs["type"]], "ethertype": ethertype, "protocol": proto,
            "port_range_min": None if lo == -1 else lo, "port_range_max": None if hi == -1 else hi,
            "remote_ip_prefix": attrs["allowed_cidr"].strip(), "remote_group": attrs.get("remote_security_group_uuid"),
            "description": attrs["description"],
        }


class SecurityGroupSerializer(NimboModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    rules = RuleSerializer(many=True, read_only=True)
    l3_networks = serializers.SerializerMethodField()
    nic_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = SecurityGroup
        fields = ["uuid", "name", "description", "owner", "revision_number", "rules", "l3_networks", "nic_count",
                  "created", "updated"]
        read_only_fields = ["revision_number"]

    def get_l3_networks(self, group) -> list[str]:
        return [str(ref.l3_network_id) for ref in group.l3_refs.all()]


class L3RefSerializer(serializers.Serializer):
    l3_network = serializers.SlugRelatedField(slug_field="uuid", queryset=L3Network.objects.all())


class NicsSerializer(serializers.Serializer):
    nics = serializers.ListField(child=serializers.UUIDField(), allow_empty=False)

    def validate_nics(self, value):
        from apps.compute.models import VmNic
        from apps.projects.access import CURRENT

        nics = VmNic.objects.select_related("vm_instance", "l3_network").filter(pk__in=value)
        access = CURRENT.get()
        if access is not None:  # another project's NIC: as if absent
            nics = access.scope(nics)
        found = {n.pk: n for n in nics}
        missing = [str(v) for v in value if v not in found]
        if missing:
            raise serializers.ValidationError(f"VM NIC {missing[0]} not found.", code="does_not_exist")
        return [found[v] for v in dict.fromkeys(value)]


class MemberSerializer(serializers.Serializer):
    """A NIC in a group, as the group's NIC list shows it."""

    uuid = serializers.UUIDField(source="vm_nic.uuid")
    vm_instance = serializers.UUIDField(source="vm_nic.vm_instance_id")
    vm_name = serializers.CharField(source="vm_nic.vm_instance.name")
    l3_network = serializers.UUIDField(source="vm_nic.l3_network_id")
    ip = serializers.CharField(source="vm_nic.ip")
    mac = serializers.CharField(source="vm_nic.mac")
    joined = serializers.DateTimeField(source="created")


class HostFirewallSerializer(serializers.ModelSerializer):
    """How a host's security-group firewall stands (written by the sync and reconcile jobs)."""

    host = serializers.UUIDField(source="host_id", read_only=True)
    host_name = serializers.CharField(source="host.name", read_only=True)

    class Meta:
        from apps.secgroups.models import HostFirewall

        model = HostFirewall
        fields = ["host", "host_name", "last_applied", "last_result", "failures", "last_error", "last_reconciled",
                  "drift", "drift_by_nic"]
        read_only_fields = fields
