"""The filter backend of every list: django-filter, refusing what it would silently ignore.

A misspelt or unknown query parameter (`?security_group_uuid=...`) used to return the whole
unfiltered list, which reads like an answer; it is now a 400 naming the parameter and the ones
the list knows. Values holding control characters are refused as in request bodies.
"""

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError

from apps.core.validators import LINE_CONTROL_CHARACTERS

# Understood by every list: pagination, search, ordering, DRF's format override.
COMMON_PARAMETERS = {"limit", "offset", "search", "ordering", "format"}


class StrictFilterBackend(DjangoFilterBackend):
    def filter_queryset(self, request, queryset, view):
        if getattr(view, "action", None) == "list":
            self.check_parameters(request, queryset, view)
        return super().filter_queryset(request, queryset, view)

    def known_parameters(self, request, queryset, view):
        known = set(COMMON_PARAMETERS) | set(getattr(view, "extra_query_parameters", ()))
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None:
            known |= set(filterset_class.base_filters)
        return known

    def check_parameters(self, request, queryset, view):
        known = self.known_parameters(request, queryset, view)
        for name, values in request.query_params.lists():
            if name not in known:
                raise ValidationError({name: [f"Unknown query parameter {name}; this list takes "
                                              f"{', '.join(sorted(known))}."]}, code="unknown_parameter")
            if any(LINE_CONTROL_CHARACTERS.search(value) for value in values):
                raise ValidationError({name: ["Control characters (NUL, ESC...) are not allowed."]},
                                      code="control_characters")
