"""Virtual routers through the API: read-only (jobs boot and repair them), plus the reconcile job."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action

from apps.compute import lifecycle
from apps.core.api.base import job_accepted
from apps.vrouter.models import VirtualRouter


class VirtualRouterSerializer(serializers.ModelSerializer):
    l3_network = serializers.SlugRelatedField(slug_field="uuid", read_only=True)
    l3_network_name = serializers.CharField(source="l3_network.name", read_only=True)
    host = serializers.SlugRelatedField(slug_field="uuid", read_only=True)
    host_name = serializers.CharField(source="host.name", read_only=True, default=None)

    class Meta:
        model = VirtualRouter
        fields = ["uuid", "name", "l3_network", "l3_network_name", "host", "host_name", "state", "address",
                  "netmask", "namespace", "leg", "last_repair", "last_repaired", "created", "updated"]
        read_only_fields = fields


class VirtualRouterViewSet(viewsets.ReadOnlyModelViewSet):
    lookup_field = "uuid"
    queryset = VirtualRouter.objects.select_related("l3_network", "host").order_by("name")
    serializer_class = VirtualRouterSerializer
    filterset_fields = {"l3_network": ["exact"], "host": ["exact"], "state": ["exact"]}

    @extend_schema(request=None, responses={202: None})
    @action(detail=False, methods=["post"])
    def reconcile(self, request):
        """Re-apply every router's desired state; what had drifted is rebuilt and listed in the job's result."""
        return job_accepted(lifecycle.reconcile_routers(user=request.user))
