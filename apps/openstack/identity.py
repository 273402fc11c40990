"""Keystone v3, only what the OpenStack client needs to sign in: the version documents and
POST /v3/auth/tokens (password or token method, project scope).

Users are Nimbo's users (domain "Default"); projects are Nimbo's projects; roles are the user's
role in the project (member or reader, plus admin for a cloud admin). The catalog names this Nimbo's
Neutron endpoint (network) and itself (identity).
"""

import json
import uuid

from django.contrib.auth import authenticate
from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.projects import access as access_module
from apps.projects.logins import client_address, retry_after, too_many

from . import tokens

DOMAIN = {"id": "default", "name": "Default"}
REGION = "RegionOne"
UPDATED = "2020-04-07T00:00:00Z"


def keystone_error(status, title, message):
    return JsonResponse({"error": {"code": status, "title": title, "message": message}}, status=status)


def not_found(request, *args, **kwargs):
    return keystone_error(404, "Not Found", f"Nimbo's identity service has no {request.path} (only sign-in).")


def _v3_document(request):
    return {"id": "v3.14", "status": "stable", "updated": UPDATED,
            "links": [{"rel": "self", "href": request.build_absolute_uri(reverse("openstack:identity-v3"))}],
            "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]}


def versions(request):
    return JsonResponse({"versions": {"values": [_v3_document(request)]}}, status=300)


def version_v3(request):
    return JsonResponse({"version": _v3_document(request)})


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def catalog(request):
    def service(kind, name, url_name):
        url = request.build_absolute_uri(reverse(url_name)).rstrip("/")
        endpoints = [{"id": uuid.uuid5(uuid.NAMESPACE_URL, f"{url}#{interface}").hex, "interface": interface,
                      "region": REGION, "region_id": REGION, "url": url}
                     for interface in ("public", "internal", "admin")]
        return {"id": uuid.uuid5(uuid.NAMESPACE_URL, url).hex, "type": kind, "name": name, "endpoints": endpoints}

    return [service("identity", "keystone", "openstack:identity-v3"),
            service("network", "neutron", "openstack:network-root")]


def _user_from_password(request, method):
    user_ref = method.get("user") if isinstance(method, dict) else None
    user_ref = user_ref if isinstance(user_ref, dict) else {}
    username = user_ref.get("name") if isinstance(user_ref.get("name"), str) else None
    if not username and user_ref.get("id"):
        from django.contrib.auth import get_user_model

        text = str(user_ref["id"])
        found = get_user_model().objects.filter(pk=text).first() if text.isascii() and text.isdigit() else None
        username = found.get_username() if found else None
    if not username or not isinstance(user_ref.get("password"), str):
        return None, keystone_error(400, "Bad Request", "Password authentication needs a user (name or id) and "
                                                        "a password.")
    wait = retry_after(username, client_address(request))
    if wait:
        return None, too_many(wait, api=True)
    user = authenticate(request, username=username, password=user_ref["password"])
    if user is None or not user.is_active:
        return None, keystone_error(401, "Unauthorized", "The request you have made requires authentication.")
    return user, None


def _user_from_token(method):
    """The token method: a Keystone token of this Nimbo (to rescope) or a Nimbo API token."""
    from rest_framework.authtoken.models import Token

    text = str(method.get("id") or "") if isinstance(method, dict) else ""
    ticket = tokens.check(text)
    if ticket:
        return ticket.user
    api_token = Token.objects.select_related("user").filter(key=text).first()
    if api_token and api_token.user.is_active:
        return api_token.user
    return None


def _scoped_access(user, scope):
    """The Access of `user` in the scope asked for (a project by id or name), else their default project."""
    project_ref = (scope or {}).get("project") if isinstance(scope, dict) else None
    if scope and not project_ref:
        raise access_module.UnknownProject("Only project scope is supported.")
    if project_ref and not isinstance(project_ref, dict):
        raise access_module.UnknownProject("The project scope is an object with an id or a name.")
    wanted = None
    if project_ref:
        wanted = project_ref.get("id") or project_ref.get("name")
        if not wanted:
            raise access_module.UnknownProject("The project scope needs an id or a name.")
    access = access_module.for_user(user, wanted)
    if access.project is None and access.is_admin:
        access = access_module.for_user(user, access_module.default_project().pk)
    return access


def token_body(request, user, access, methods, ticket):
    roles = [{"id": access.role, "name": access.role}] if access.role else []
    if access.is_admin:
        roles += [{"id": "admin", "name": "admin"}, {"id": "member", "name": "member"}]
    project = access.project
    body = {"methods": methods, "audit_ids": [uuid.uuid4().hex[:22]],
            "user": {"id": str(user.pk), "name": user.get_username(), "domain": DOMAIN, "password_expires_at": None},
            "issued_at": _iso(ticket.issued_at), "expires_at": _iso(ticket.expires_at), "is_domain": False}
    if project is not None:
        body.update(project={"id": str(project.pk), "name": project.name, "domain": DOMAIN}, roles=roles,
                    catalog=catalog(request))
    return {"token": body}


@csrf_exempt
@require_http_methods(["POST"])
def auth_tokens(request):
    try:
        auth = json.loads(request.body or b"{}")["auth"]
        identity = auth["identity"]
        methods = list(identity["methods"])
    except (ValueError, KeyError, TypeError):
        return keystone_error(400, "Bad Request", "Expecting to find auth.identity.methods in the request body.")
    if methods == ["password"]:
        user, refusal = _user_from_password(request, identity.get("password") or {})
        if refusal is not None:
            return refusal
    elif methods == ["token"]:
        user = _user_from_token(identity.get("token"))
        if user is None:
            return keystone_error(401, "Unauthorized", "The token is not valid.")
    else:
        return keystone_error(401, "Unauthorized", "Only the password and token methods are supported.")
    try:
        access = _scoped_access(user, auth.get("scope"))
    except access_module.UnknownProject as exc:
        return keystone_error(401, "Unauthorized", str(exc))
    if access.project is None:
        return keystone_error(401, "Unauthorized", f"User {user.get_username()} is not a member of any project.")
    text, ticket = tokens.issue(user, access.project)
    response = JsonResponse(token_body(request, user, access, methods, ticket), status=201)
    response["X-Subject-Token"] = text
    return response
