"""Virtual routers through the API: list and show (host, legs and addresses, state, what it serves, last
repair), rebuild and migrate (jobs), delete (once no VM uses its network), and the reconcile job."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.compute import lifecycle
from apps.core.api.base import job_accepted
from apps.infra.models import Host
from apps.vrouter import services
from apps.vrouter.models import VirtualRouter


class VirtualRouterSerializer(serializers.ModelSerializer):
    l3_network = serializers.SlugRelatedField(slug_field="uuid", read_only=True)
    l3_network_name = serializers.CharField(source="l3_network.name", read_only=True)
    host = serializers.SlugRelatedField(slug_field="uuid", read_only=True)
    host_name = serializers.CharField(source="host.name", read_only=True, default=None)
    public_l3 = serializers.SlugRelatedField(slug_field="uuid", read_only=True)
    public_l3_name = serializers.CharField(source="public_l3.name", read_only=True, default=None)
    services = serializers.SerializerMethodField()

    class Meta:
        model = VirtualRouter
        fields = ["uuid", "name", "l3_network", "l3_network_name", "host", "host_name", "state", "address",
                  "netmask", "namespace", "leg", "public_l3", "public_l3_name", "public_address", "public_netmask",
                  "public_gateway", "public_leg", "services", "last_repair", "last_repaired", "created", "updated"]
        read_only_fields = fields

    def get_services(self, vr) -> list[str]:
        return sorted(s.service_type for s in vr.l3_network.network_services.all() if s.provider == "VirtualRouter")


class MigrateSerializer(serializers.Serializer):
    host = serializers.SlugRelatedField(slug_field="uuid", queryset=Host.objects.select_related("cluster"))


class VirtualRouterViewSet(mixins.DestroyModelMixin, viewsets.ReadOnlyModelViewSet):
    lookup_field = "uuid"
    queryset = (VirtualRouter.objects.select_related("l3_network", "host__cluster", "public_l3")
                .prefetch_related("l3_network__network_services").order_by("name"))
    serializer_class = VirtualRouterSerializer
    filterset_fields = {"l3_network": ["exact"], "host": ["exact"], "state": ["exact"]}
    search_fields = ["name", "address", "public_address"]

    def destroy(self, request, *args, **kwargs):
        """Remove the router from its host and release its addresses; 409 while a VM uses its network."""
        services.delete_virtual_router(self.get_object(), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={202: None})
    @action(detail=True, methods=["post"])
    def rebuild(self, request, uuid=None):
        """Build the router again on its host with its whole state (namespace, legs, dnsmasq, NAT)."""
        return job_accepted(services.rebuild_virtual_router(self.get_object(), user=request.user))

    @extend_schema(request=MigrateSerializer, responses={202: None})
    @action(detail=True, methods=["post"])
    def migrate(self, request, uuid=None):
        """Move the router to another connected host of its cluster."""
        data = MigrateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return job_accepted(services.migrate_virtual_router(self.get_object(), host=data.validated_data["host"],
                                                            user=request.user))

    @extend_schema(request=None, responses={202: None})
    @action(detail=False, methods=["post"])
    def reconcile(self, request):
        """Re-apply every router's desired state; what had drifted is rebuilt and listed in the job's result."""
        return job_accepted(lifecycle.reconcile_routers(user=request.user))
