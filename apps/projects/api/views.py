from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.core.api.base import ServiceViewSet
from apps.projects import quotas, services
from apps.projects.models import Membership, Project

from .serializers import MembershipSerializer, ProjectSerializer, QuotaSerializer


class ProjectViewSet(ServiceViewSet):
    """Projects: the admin creates them and their memberships; a user sees the projects they belong to."""

    queryset = Project.objects.prefetch_related(
        Prefetch("memberships", queryset=Membership.objects.select_related("user").order_by("user__username")))
    serializer_class = ProjectSerializer
    filterset_fields = ["name"]
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created"]
    create_service = services.create_project
    update_service = services.update_project
    delete_service = services.delete_project

    @extend_schema(request=QuotaSerializer, responses={200: QuotaSerializer(many=True)})
    @action(detail=True, methods=["get", "post"], serializer_class=QuotaSerializer)
    def quotas(self, request, uuid=None):
        """GET: each quota's limit and use. POST {"name": "vm.num", "limit": 30} (admin): change one."""
        project = self.get_object()
        if request.method == "POST":
            data = QuotaSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            services.update_quota(project, user=request.user, **data.validated_data)
        return Response(quotas.report(project))

    @extend_schema(request=MembershipSerializer, responses={200: ProjectSerializer})
    @action(detail=True, methods=["post"], serializer_class=MembershipSerializer)
    def members(self, request, uuid=None):
        """POST {"user": name, "role": "member" | "reader", "is_default": bool} (admin): add or change one."""
        project = self.get_object()
        data = MembershipSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        services.add_member(project, member=fields.pop("user"), user=request.user, **fields)
        return Response(ProjectSerializer(self._reread(project)).data)

    @extend_schema(request=MembershipSerializer, responses={200: ProjectSerializer})
    @action(detail=True, methods=["post"], url_path="members/remove", serializer_class=MembershipSerializer)
    def remove_members(self, request, uuid=None):
        """POST {"user": name} (admin): the user leaves the project."""
        project = self.get_object()
        data = MembershipSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.remove_member(project, member=data.validated_data["user"], user=request.user)
        return Response(ProjectSerializer(self._reread(project)).data)
