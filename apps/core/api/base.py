"""The pattern every resource's API follows: thin viewsets that call one service function.

A resource declares its serializer, filters and services; the viewset does nothing else:

    class ZoneViewSet(ServiceViewSet):
        queryset = Zone.objects.all()
        serializer_class = ZoneSerializer
        create_service = services.create_zone
        update_service = services.update_zone
        delete_service = services.delete_zone
"""

from rest_framework import serializers, status, viewsets
from rest_framework.response import Response

from apps.core.models import Job


class JobSerializer(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    target_type = serializers.SerializerMethodField()
    message = serializers.CharField(read_only=True)

    class Meta:
        model = Job
        fields = [
            "uuid",
            "kind",
            "state",
            "progress",
            "steps",
            "target_type",
            "target_id",
            "target_name",
            "requested_by",
            "result",
            "error",
            "message",
            "created",
            "started",
            "finished",
        ]
        read_only_fields = fields

    def get_target_type(self, obj) -> str | None:
        return f"{obj.target_type.app_label}.{obj.target_type.model}" if obj.target_type_id else None


def job_accepted(job):
    """202 with the job, for an operation that continues on a worker."""
    return Response({"job": JobSerializer(job).data}, status=status.HTTP_202_ACCEPTED)


class ServiceViewSet(viewsets.ModelViewSet):
    """CRUD through service functions: create(user, **data), update(obj, user, **data), delete(obj, user)."""

    lookup_field = "uuid"
    create_service = None
    update_service = None
    delete_service = None

    def get_queryset(self):
        queryset = super().get_queryset()
        # Aggregates drop Meta.ordering (GROUP BY): keep pages stable whatever the queryset does.
        if not queryset.query.order_by:
            queryset = queryset.order_by(*(queryset.model._meta.ordering or ["pk"]), "pk")
        return queryset

    @property
    def access(self):
        """Who asks, in which project, with which role (apps/projects/access.py)."""
        from apps.projects.access import for_request

        return for_request(self.request)

    def owner_fields(self, data=None):
        """{"project": ...} for a new row of this viewset's model, if its rows belong to projects."""
        self.access.check_sharing(data or {})
        model = self.get_queryset().model
        if not any(f.name == "project" for f in model._meta.get_fields()):
            return {}
        return {"project": self.access.owner_for_create(model)}

    def perform_create(self, serializer):
        data = {**serializer.validated_data, **self.owner_fields(serializer.validated_data)}
        instance = type(self).create_service(user=self.request.user, **data)
        serializer.instance = self._reread(instance)

    def perform_update(self, serializer):
        self.access.check_sharing(serializer.validated_data)
        instance = type(self).update_service(serializer.instance, user=self.request.user, **serializer.validated_data)
        serializer.instance = self._reread(instance)

    def perform_destroy(self, instance):
        type(self).delete_service(instance, user=self.request.user)

    def _reread(self, instance):
        """The saved row as the list and detail views show it (annotations, related names)."""
        return self.get_queryset().get(pk=instance.pk)
