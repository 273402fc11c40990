import django_filters
from rest_framework import viewsets
from rest_framework.decorators import api_view
from rest_framework.response import Response
from rest_framework.reverse import reverse

from apps.core.choices import JobState
from apps.core.models import Job

from .base import JobSerializer


class JobFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=JobState.choices)
    kind = django_filters.CharFilter()
    target_id = django_filters.CharFilter()
    requested_by = django_filters.CharFilter(field_name="requested_by__username")
    created_after = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="lt")

    class Meta:
        model = Job
        fields = ["state", "kind", "target_id", "requested_by"]


class JobViewSet(viewsets.ReadOnlyModelViewSet):
    """Every mutating call and its outcome, newest first."""

    queryset = Job.objects.select_related("requested_by", "target_type")
    serializer_class = JobSerializer
    filterset_class = JobFilter
    search_fields = ["kind", "target_name", "error"]
    ordering_fields = ["created", "finished", "kind"]
    lookup_field = "uuid"


# The API root lists every registered collection; apps add theirs to the router in portal/api.py.
@api_view(["GET"])
def api_root(request, format=None):
    from portal.api import router

    return Response(
        {prefix: reverse(f"api:{basename}-list", request=request, format=format)
         for prefix, _, basename in router.registry}
    )
