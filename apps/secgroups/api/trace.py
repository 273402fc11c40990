"""POST /api/v1/vm-nics/{uuid}/trace/: why is this packet dropped (or allowed)?"""

import ipaddress
import re

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.secgroups.trace import PROTOCOLS, STATES, Packet

PORT_PROTOCOLS = ("tcp", "udp", "sctp")
MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


class TraceSerializer(serializers.Serializer):
    """A packet of the NIC. Ingress: to the NIC (`dst` defaults to its address); egress: from it (`src` does)."""

    direction = serializers.ChoiceField(choices=["ingress", "egress"])
    protocol = serializers.CharField(help_text="tcp, udp, icmp, icmpv6, sctp, or an IP protocol number 0-255")
    src = serializers.IPAddressField(required=False, allow_null=True, allow_blank=True, default=None)
    dst = serializers.IPAddressField(required=False, allow_null=True, allow_blank=True, default=None)
    src_port = serializers.IntegerField(min_value=1, max_value=65535, required=False, allow_null=True, default=None)
    dst_port = serializers.IntegerField(min_value=1, max_value=65535, required=False, allow_null=True, default=None)
    icmp_type = serializers.IntegerField(min_value=0, max_value=255, required=False, allow_null=True, default=None)
    icmp_code = serializers.IntegerField(min_value=0, max_value=255, required=False, allow_null=True, default=None)
    state = serializers.ChoiceField(choices=list(STATES), default="new")
    src_mac = serializers.CharField(required=False, allow_null=True, allow_blank=True, default=None)
    live = serializers.BooleanField(default=True, help_text="also trace through the chains the host really holds")

    def validate_protocol(self, value):
        text = value.strip().lower()
        if text.isascii() and text.isdigit() and int(text) <= 255:  # "²" is a digit int() refuses
            return text
        if text in PROTOCOLS:
            return "ipv6-icmp" if text == "icmpv6" else text
        raise serializers.ValidationError("Expected tcp, udp, icmp, icmpv6, sctp or a protocol number 0-255.")

    def validate_src_mac(self, value):
        if value and not MAC.match(value):
            raise serializers.ValidationError("Expected a MAC address such as 52:54:00:12:34:56.")
        return value.lower() if value else None

    def validate(self, data):
        nic = self.context["nic"]
        own = "dst" if data["direction"] == "ingress" else "src"
        other = "src" if own == "dst" else "dst"
        if not data.get(own):
            if not nic.ip:
                raise serializers.ValidationError({own: "The NIC has no address: give one."})
            data[own] = nic.ip
        if not data.get(other):
            raise serializers.ValidationError({other: "This field is required."})
        if ipaddress.ip_address(data["src"]).version != ipaddress.ip_address(data["dst"]).version:
            raise serializers.ValidationError({other: "Source and destination must be of one IP version."})
        proto = data["protocol"]
        number = int(proto) if proto.isdigit() else PROTOCOLS[proto]
        if proto in PORT_PROTOCOLS or number in (6, 17, 132):
            if data.get("dst_port") is None:
                raise serializers.ValidationError({"dst_port": f"A {proto} packet needs a destination port."})
            data["src_port"] = data.get("src_port") or 40000
        else:
            for field in ("src_port", "dst_port"):
                if data.get(field) is not None:
                    raise serializers.ValidationError({field: f"A {proto} packet has no ports."})
        if number in (1, 58):
            v6 = ipaddress.ip_address(data["src"]).version == 6
            if data.get("icmp_type") is None:
                data["icmp_type"] = 128 if v6 else 8  # echo request
            if data.get("icmp_code") is None:
                data["icmp_code"] = 0
        else:
            for field in ("icmp_type", "icmp_code"):
                if data.get(field) is not None:
                    raise serializers.ValidationError({field: "Only an ICMP packet has a type and code."})
        if data.get("src_mac") and data["direction"] != "egress":
            raise serializers.ValidationError({"src_mac": "The source MAC is checked on egress only."})
        return data


def packet_of(data):
    return Packet(**{k: v for k, v in data.items() if k != "live"})


class NicTraceView(APIView):
    """POST a packet: its path through the NIC's firewall as compiled, then as the host holds it (with the
    rules' packet counters), the verdict, the security group rule that decided it, and any drift on the way."""

    serializer_class = TraceSerializer

    @extend_schema(request=TraceSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request, nic):
        from apps.compute.models import VmNic
        from apps.projects.access import for_request
        from apps.secgroups.tracing import trace_nic

        nics = for_request(request).scope(VmNic.objects.select_related("vm_instance__host__cluster"))
        vm_nic = get_object_or_404(nics, pk=nic)
        serializer = TraceSerializer(data=request.data, context={"nic": vm_nic, "request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        return Response(trace_nic(vm_nic, packet_of(data), live=data["live"]))
