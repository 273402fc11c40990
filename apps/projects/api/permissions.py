"""The API's side of apps.projects.access: one permission class and one filter backend, set as
DRF's defaults so that every API view checks roles and scopes its rows the same way."""

from django.http import Http404
from rest_framework import exceptions
from rest_framework.filters import BaseFilterBackend
from rest_framework.permissions import SAFE_METHODS, BasePermission

from apps.projects import access as access_module


def view_model(view):
    queryset = getattr(view, "queryset", None)
    if queryset is None:
        return None
    return queryset.model


def request_access(request):
    try:
        return access_module.for_request(request)
    except access_module.UnknownProject as exc:
        raise Http404(str(exc)) from exc


class ProjectAccess(BasePermission):
    """Signed in; reading a model the user may read; changing only what their role allows.

    Another project's object never reaches this check: the filter backend hides it (404).
    """

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated and request.user.is_active):
            return False
        access = request_access(request)
        model = view_model(view)
        if model is None:
            return True  # views without a model scope what they read themselves (see NicFirewallView)
        if request.method in SAFE_METHODS:
            allowed = access.can_read(model)
        else:
            allowed = access.can_change(model)
        if not allowed:
            raise exceptions.PermissionDenied(access.refusal(model))
        return True

    def has_object_permission(self, request, view, obj):
        if request.method in SAFE_METHODS:
            return True
        access = request_access(request)
        if not access.can_change(type(obj), obj):
            raise exceptions.PermissionDenied(access.refusal(type(obj)))
        return True


class ProjectScopeFilter(BaseFilterBackend):
    """Lists and lookups see only the request's rows: list(), retrieve() and every detail action
    go through filter_queryset(), so another project's object answers 404 as if absent."""

    def filter_queryset(self, request, queryset, view):
        return request_access(request).scope(queryset)
