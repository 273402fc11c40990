from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch
from django.shortcuts import get_object_or_404
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api.base import ServiceViewSet
from apps.secgroups import services
from apps.secgroups.models import HostFirewall, SecurityGroup, SecurityGroupRule

from .serializers import (NEUTRON_TO_ZSTACK_FIELDS, HostFirewallSerializer, L3RefSerializer, MemberSerializer,
                          NicsSerializer, RuleSerializer, SecurityGroupSerializer, ZStackRuleSerializer)


def _truthy(value):
    return str(value).lower() in ("1", "true", "yes")


class SecurityGroupViewSet(ServiceViewSet):
    """Security groups. Rules in ZStack's form under `rules/`, in Neutron's at /security-group-rules/.
    DELETE refuses a group that still holds NICs (409) unless `?force=true`."""

    queryset = (SecurityGroup.objects.select_related("owner")
                .prefetch_related(Prefetch("rules", queryset=SecurityGroupRule.objects.order_by("created", "uuid")),
                                  "l3_refs")
                .annotate(nic_count=Count("nic_refs", distinct=True)))
    serializer_class = SecurityGroupSerializer
    filterset_fields = ["name"]
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created", "revision_number"]
    create_service = services.create_security_group
    update_service = services.update_security_group
    delete_service = services.delete_security_group

    def perform_destroy(self, instance):
        services.delete_security_group(instance, user=self.request.user, force=_truthy(self.request.query_params.get(
            "force", "")))

    @action(detail=True, methods=["get", "post"], serializer_class=ZStackRuleSerializer)
    def rules(self, request, uuid=None):
        """GET: the group's rules in ZStack's form. POST: add one (ZStack's form)."""
        group = self.get_object()
        if request.method == "GET":
            rules = group.rules.order_by("created", "uuid")
            return Response(ZStackRuleSerializer(rules, many=True).data)
        serializer = ZStackRuleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            rule = services.add_rule(group, user=request.user, **serializer.validated_data)
        except ValidationError as exc:
            raise _renamed(exc) from exc
        return Response(ZStackRuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["get", "post"], serializer_class=NicsSerializer)
    def nics(self, request, uuid=None):
        """GET: the NICs in the group. POST {"nics": [uuid, ...]}: they join it."""
        group = self.get_object()
        if request.method == "POST":
            serializer = NicsSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            services.add_nics(group, serializer.validated_data["nics"], user=request.user)
        return self._members(group)

    @action(detail=True, methods=["post"], url_path="nics/remove", serializer_class=NicsSerializer)
    def remove_nics(self, request, uuid=None):
        """POST {"nics": [uuid, ...]}: they leave the group."""
        group = self.get_object()
        serializer = NicsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.remove_nics(group, serializer.validated_data["nics"], user=request.user)
        return self._members(group)

    def _members(self, group):
        refs = group.nic_refs.select_related("vm_nic__vm_instance").order_by("created")
        return Response(MemberSerializer(refs, many=True).data)

    @action(detail=True, methods=["post"], url_path="l3-networks", serializer_class=L3RefSerializer)
    def attach_l3(self, request, uuid=None):
        """POST {"l3_network": uuid}: attach the group to an L3 network with the SecurityGroup service."""
        group = self.get_object()
        serializer = L3RefSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.attach_l3(group, serializer.validated_data["l3_network"], user=request.user)
        return Response(self._reread(group) and SecurityGroupSerializer(self._reread(group)).data)

    @action(detail=True, methods=["post"], url_path="l3-networks/detach", serializer_class=L3RefSerializer)
    def detach_l3(self, request, uuid=None):
        group = self.get_object()
        serializer = L3RefSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.detach_l3(group, serializer.validated_data["l3_network"], user=request.user)
        return Response(SecurityGroupSerializer(self._reread(group)).data)


def _renamed(exc):
    """A rule refusal worded for ZStack's form: the field takes its ZStack name."""
    if hasattr(exc, "error_dict"):
        return ValidationError({NEUTRON_TO_ZSTACK_FIELDS.get(k, k): v for k, v in exc.error_dict.items()})
    return exc


class SecurityGroupRuleViewSet(mixins.CreateModelMixin, mixins.RetrieveModelMixin, mixins.ListModelMixin,
                               mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Rules in Neutron's form. A rule never changes: delete it and add another."""

    lookup_field = "uuid"
    queryset = (SecurityGroupRule.objects.select_related("security_group", "remote_group")
                .order_by("security_group__name", "created", "uuid"))
    serializer_class = RuleSerializer
    # Neutron's names (security_group_id, remote_group_id) and the model's both filter.
    filterset_fields = {"security_group": ["exact"], "security_group_id": ["exact"], "direction": ["exact"],
                        "ethertype": ["exact"], "remote_group": ["exact"], "remote_group_id": ["exact"]}

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        group = data.pop("security_group")
        serializer.instance = services.add_rule(group, user=self.request.user, **data)

    def perform_destroy(self, instance):
        services.delete_rule(instance, user=self.request.user)


class HostFirewallViewSet(viewsets.ReadOnlyModelViewSet):
    """Each host's firewall: last apply, failures in a row and the last error, last drift repaired."""

    lookup_field = "host"
    queryset = HostFirewall.objects.select_related("host").order_by("host__name", "pk")
    serializer_class = HostFirewallSerializer
    filterset_fields = ["host"]


class NicFirewallView(APIView):
    """GET /api/v1/vm-nics/{uuid}/firewall/: the NIC's groups and rules next to the rules realised
    on its host, read back from the host as `iptables -S` prints them (its MAC and ARP checks as
    ebtables-save prints them), and the last drift repaired."""

    def get(self, request, nic):
        from apps.compute.models import VmNic

        from apps.secgroups.realised import nic_firewall

        from apps.projects.access import for_request

        nics = for_request(request).scope(VmNic.objects.select_related("vm_instance__host__cluster"))
        vm_nic = get_object_or_404(nics, pk=nic)
        return Response(nic_firewall(vm_nic))
