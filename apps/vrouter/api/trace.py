"""POST /api/v1/vips/{uuid}/trace/: a packet from the public network to a VIP, through the router and the
guest's security groups."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.secgroups.api.trace import TraceSerializer, packet_of


class VipTraceSerializer(TraceSerializer):
    """The packet as it arrives from the public network: `src` its public source, `dst_port` the VIP's port."""

    direction = serializers.HiddenField(default="ingress")
    src_mac = serializers.HiddenField(default=None)

    def validate(self, data):
        vip = self.context["vip"]
        if data.get("dst") and data["dst"] != vip.ip:
            raise serializers.ValidationError({"dst": f"The packet goes to the VIP ({vip.ip}); leave dst out."})
        data["dst"] = vip.ip
        if data.get("src") and ":" in data["src"]:
            raise serializers.ValidationError({"src": "A VIP is an IPv4 address: give an IPv4 source."})
        return super().validate(data)


class VipTraceView(APIView):
    serializer_class = VipTraceSerializer

    @extend_schema(request=VipTraceSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request, vip):
        from apps.projects.access import for_request
        from apps.vrouter.models import Vip
        from apps.vrouter.tracing import trace_vip

        obj = get_object_or_404(for_request(request).scope(Vip.objects.select_related("l3_network")), pk=vip)
        serializer = VipTraceSerializer(data=request.data, context={"vip": obj, "nic": _VipAsNic(obj),
                                                                      "request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        return Response(trace_vip(obj, packet_of(data), live=data["live"]))


class _VipAsNic:
    """TraceSerializer fills the NIC's own address on its side: here the VIP's."""

    def __init__(self, vip):
        self.ip = vip.ip
