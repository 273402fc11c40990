"""Failed logins are limited per user name and per client address, on the API's token endpoint and
the portal's login page alike: past the limit, 429 with Retry-After, even for the right password,
until the window has passed.

Failures are recorded from Django's user_login_failed signal (sent by authenticate() for both
entry points) in the database, so that every web process counts the same failures.
"""

import datetime
import math

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from .models import LoginFailure


def _limits():
    return (getattr(settings, "NIMBO_LOGIN_WINDOW", 300), getattr(settings, "NIMBO_LOGIN_MAX_PER_USER", 5),
            getattr(settings, "NIMBO_LOGIN_MAX_PER_ADDRESS", 20))


def client_address(request):
    return request.META.get("REMOTE_ADDR") or None


def retry_after(username, address):
    """Seconds to wait before the next try of `username` from `address` (0: go ahead)."""
    window, per_user, per_address = _limits()
    since = timezone.now() - datetime.timedelta(seconds=window)
    waits = []
    for field, value, limit in (("username", (username or "").lower(), per_user), ("address", address, per_address)):
        if not value:
            continue
        recent = list(LoginFailure.objects.filter(**{field: value}, created__gt=since)
                      .order_by("-created").values_list("created", flat=True)[:limit])
        if len(recent) >= limit:
            # Wait until the oldest of the last `limit` failures leaves the window.
            waits.append((recent[-1] - since).total_seconds())
    return math.ceil(max(waits)) if waits else 0


@receiver(user_login_failed)
def record_failure(sender, credentials, request=None, **kwargs):
    window, _, _ = _limits()
    LoginFailure.objects.filter(created__lt=timezone.now() - datetime.timedelta(seconds=2 * window)).delete()
    LoginFailure.objects.create(username=(credentials.get("username") or "")[:150].lower(),
                                address=client_address(request) if request is not None else None)


def too_many(wait, api):
    message = f"Too many failed logins; try again in {wait} seconds."
    if api:
        response = JsonResponse({"error": {"code": "throttled", "message": message, "field": None}}, status=429)
    else:
        response = HttpResponse(message, status=429, content_type="text/plain")
    response["Retry-After"] = str(wait)
    return response


def guard_login_view(request, view, username_field="username", api=False):
    """Call `view()` unless this POST's user name or address is over its limit."""
    if request.method == "POST":
        username = request.POST.get(username_field, "")
        if api and not username and request.content_type == "application/json":
            import json

            try:
                username = str((json.loads(request.body or b"{}") or {}).get(username_field, ""))
            except (ValueError, AttributeError):
                username = ""
        wait = retry_after(username, client_address(request))
        if wait:
            return too_many(wait, api)
    return view()


@csrf_exempt
def obtain_auth_token(request, *args, **kwargs):
    """POST username + password -> {"token": ...}, limited as above."""
    from rest_framework.authtoken.views import obtain_auth_token as drf_view

    return guard_login_view(request, lambda: drf_view(request, *args, **kwargs), api=True)
