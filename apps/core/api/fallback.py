"""JSON answers for what never reaches a DRF view under /api/: an unknown path, a request Django
itself refuses (400), a crash (500). Everything under /api/ answers in the error shape
{"error": {"code", "message", "field"}}; the portal keeps Django's HTML pages."""

from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults


def _error(status, code, message):
    return JsonResponse({"error": {"code": code, "message": message, "field": None}}, status=status)


def _is_api(request):
    return request.path.startswith("/api/")


def api_not_found(request, *args, **kwargs):
    """Any /api/ path no route matched (instead of the admin's login page)."""
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            if request.method in ("GET", "HEAD"):
                return HttpResponsePermanentRedirect(
                    request.get_full_path().replace(request.path, request.path + "/", 1))
            return _error(404, "not_found", f"No API endpoint at {request.path}; did you mean {request.path}/?")
    return _error(404, "not_found", f"No API endpoint at {request.path}.")


def bad_request(request, exception, *args, **kwargs):
    if _is_api(request):
        return _error(400, "bad_request", "Bad request.")
    return defaults.bad_request(request, exception, *args, **kwargs)


def permission_denied(request, exception, *args, **kwargs):
    if _is_api(request):
        return _error(403, "permission_denied", "You do not have permission to perform this action.")
    return defaults.permission_denied(request, exception, *args, **kwargs)


def page_not_found(request, exception, *args, **kwargs):
    if _is_api(request):
        return api_not_found(request)
    return defaults.page_not_found(request, exception, *args, **kwargs)


def server_error(request, *args, **kwargs):
    # Django has logged the traceback (logger django.request) before calling this.
    if _is_api(request):
        return _error(500, "server_error", "Internal server error; the traceback is in the server's log.")
    return defaults.server_error(request, *args, **kwargs)
