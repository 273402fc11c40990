"""Neutron v2.0, only security groups and their rules, over Nimbo's own services.

One stored rule, three forms: these views read and write the same rows as /api/v1/ (Neutron's and
ZStack's forms) through apps.secgroups.services, so the same validation, jobs, permissions, quotas
and firewall sync apply. Requests carry a Keystone token of this Nimbo (X-Auth-Token); its project is
the request's project. Errors answer as Neutron does: {"NeutronError": {"type", "message", "detail"}}.
"""

import functools
import json
import uuid

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from apps.core.exceptions import Conflict, InUse, NimboError
from apps.core.jobs import describe_error
from apps.projects import access as access_module
from apps.secgroups import services
from apps.secgroups.choices import Direction, Ethertype, protocol_label
from apps.secgroups.models import SecurityGroup, SecurityGroupRule
from apps.secgroups.validation import parse_protocol

from . import tokens


class NeutronFault(Exception):
    def __init__(self, status, kind, message):
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def neutron_error(status, kind, message):
    return JsonResponse({"NeutronError": {"type": kind, "message": message, "detail": ""}}, status=status)


def _fault_of(exc, noun):
    """A Nimbo refusal as Neutron words it (status, type, message)."""
    if isinstance(exc, NeutronFault):
        return exc.status, exc.kind, exc.message
    if isinstance(exc, InUse):
        return 409, f"{noun}InUse", exc.message
    if isinstance(exc, Conflict) and exc.code == "duplicate":
        return 409, "SecurityGroupRuleExists", exc.message
    if isinstance(exc, NimboError):
        kind = {"quota_exceeded": "OverQuota", "not_found": f"{noun}NotFound"}.get(exc.code, "InvalidInput")
        if exc.status == 400:
            return 400, "InvalidInput", f"Invalid input for operation: {exc.message}"
        return exc.status, kind, exc.message
    if isinstance(exc, ValidationError):
        message, field = describe_error(exc)
        codes = {e.code for errors in getattr(exc, "error_dict", {}).values() for e in errors}
        if codes and codes <= {"unique", "unique_together"}:
            return 409, "SecurityGroupRuleExists", message
        where = f"{field}: " if field else ""
        return 400, "InvalidInput", f"Invalid input for operation: {where}{message}"
    if isinstance(exc, (ProtectedError, RestrictedError)):
        return 409, f"{noun}InUse", describe_error(exc)[0]
    if isinstance(exc, IntegrityError):
        return 409, "SecurityGroupRuleExists", "Security group rule already exists."
    if isinstance(exc, PermissionDenied):
        return 403, "PolicyNotAuthorized", str(exc) or "This action is not allowed."
    raise exc


def neutron_view(noun):
    """Token check, the token's project as the request's project, and Neutron's error bodies."""

    def decorate(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            ticket = tokens.check(request.headers.get("X-Auth-Token", ""))
            if ticket is None:
                return JsonResponse({"error": {"code": 401, "title": "Unauthorized",
                                               "message": "The request you have made requires authentication."}},
                                    status=401)
            request.user = ticket.user
            try:
                access = access_module.for_user(ticket.user, ticket.project_id)
            except access_module.UnknownProject:
                return neutron_error(401, "NotAuthorized", "The token's project is no longer yours.")
            request._nimbo_access = access
            context = access_module.CURRENT.set(access)
            try:
                return view(request, access, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - mapped, or raised again by _fault_of
                return neutron_error(*_fault_of(exc, noun))
            finally:
                access_module.CURRENT.reset(context)

        return wrapper

    return decorate


# --- shapes ------------------------------------------------------------------------------------------

def _time(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def rule_dict(rule, project_id):
    project = str(project_id) if project_id else None
    return {
        "id": str(rule.uuid), "security_group_id": str(rule.security_group_id), "direction": rule.direction,
        "ethertype": rule.ethertype, "protocol": None if rule.protocol is None else protocol_label(rule.protocol),
        "port_range_min": rule.port_range_min, "port_range_max": rule.port_range_max,
        "remote_ip_prefix": rule.remote_ip_prefix or None,
        "remote_group_id": str(rule.remote_group_id) if rule.remote_group_id else None,
        "remote_address_group_id": None, "normalized_cidr": rule.remote_ip_prefix or None,
        "description": rule.description, "project_id": project, "tenant_id": project,
        "belongs_to_default_sg": False, "tags": [], "revision_number": 0,
        "created_at": _time(rule.created), "updated_at": _time(rule.updated),
    }


def group_dict(group):
    project = str(group.project_id) if group.project_id else None
    rules = sorted(group.rules.all(), key=lambda r: (r.created, r.uuid))
    return {
        "id": str(group.uuid), "name": group.name, "description": group.description, "project_id": project,
        "tenant_id": project, "security_group_rules": [rule_dict(r, group.project_id) for r in rules],
        "stateful": True, "shared": False, "tags": [], "revision_number": group.revision_number,
        "created_at": _time(group.created), "updated_at": _time(group.updated),
    }


GROUP_KEYS = {"id", "name", "description", "project_id", "tenant_id", "security_group_rules", "stateful", "shared",
              "tags", "revision_number", "created_at", "updated_at"}
RULE_OUT_KEYS = {"id", "security_group_id", "direction", "ethertype", "protocol", "port_range_min", "port_range_max",
                 "remote_ip_prefix", "remote_group_id", "remote_address_group_id", "normalized_cidr", "description",
                 "project_id", "tenant_id", "belongs_to_default_sg", "tags", "revision_number", "created_at",
                 "updated_at"}


def _filtered(items, request, keys):
    """Neutron's list filters: any attribute given as a query parameter (repeated = any of them);
    `fields` limits the attributes answered; paging and sorting parameters are accepted and ignored."""
    ignored = {"fields", "limit", "marker", "page_reverse", "sort_key", "sort_dir", "verbose"}
    for key in request.GET:
        if key in ignored:
            continue
        wanted = {str(v) for v in request.GET.getlist(key)}
        if key not in keys:
            raise NeutronFault(400, "HTTPBadRequest", f"{key} is an invalid filter.")
        items = [item for item in items if _text(item.get(key)) in wanted]
    return [_fields(item, request) for item in items]


def _fields(item, request):
    """One resource as shown: `fields` limits its attributes; a show takes no filters (Neutron ignores them)."""
    fields = [f for f in request.GET.getlist("fields") if f]
    return {k: v for k, v in item.items() if k in fields} if fields else item


def _text(value):
    if isinstance(value, bool):
        return str(value)
    return "" if value is None else str(value)


def _body(request, key):
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        raise NeutronFault(400, "HTTPBadRequest", "The request body is not valid JSON.") from None
    if not isinstance(data, dict) or not isinstance(data.get(key), dict):
        raise NeutronFault(400, "HTTPBadRequest", f"Resource body required: send {{\"{key}\": {{...}}}}.")
    return data[key]


def _uuid_or_none(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _groups(access):
    return access.scope(SecurityGroup.objects.prefetch_related("rules").order_by("name", "created", "uuid"))


def _group(access, group_id, kind="SecurityGroupNotFound"):
    pk = _uuid_or_none(group_id)
    group = _groups(access).filter(pk=pk).first() if pk else None
    if group is None:
        raise NeutronFault(404, kind, f"Security group {group_id} does not exist")
    return group


def _rules(access):
    return access.scope(SecurityGroupRule.objects.select_related("security_group")
                        .order_by("security_group__name", "created", "uuid"))


def _rule(access, rule_id):
    pk = _uuid_or_none(rule_id)
    rule = _rules(access).filter(pk=pk).first() if pk else None
    if rule is None:
        raise NeutronFault(404, "SecurityGroupRuleNotFound", f"Security group rule {rule_id} does not exist")
    return rule


def _allowed_keys(data, allowed, resource):
    extra = sorted(set(data) - set(allowed))
    if extra:
        raise NeutronFault(400, "HTTPBadRequest", f"Unrecognized attribute(s) '{', '.join(extra)}' for {resource}.")


# --- views -------------------------------------------------------------------------------------------

def not_found(request, *args, **kwargs):
    return neutron_error(404, "HTTPNotFound", f"The resource could not be found: Nimbo's network service has only "
                                              f"security groups and security group rules, not {request.path}.")


def versions(request):
    href = request.build_absolute_uri(reverse("openstack:network-v2"))
    return JsonResponse({"versions": [{"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": href}]}]})


def version_v2(request):
    base = request.build_absolute_uri(reverse("openstack:network-v2"))
    resources = [{"name": name, "collection": f"{name}s",
                  "links": [{"rel": "self", "href": f"{base}{name.replace('_', '-')}s"}]}
                 for name in ("security_group", "security_group_rule")]
    return JsonResponse({"resources": resources})


@neutron_view("SecurityGroup")
def security_groups(request, access):
    if request.method == "GET":
        groups = [group_dict(g) for g in _groups(access)]
        return JsonResponse({"security_groups": _filtered(groups, request, GROUP_KEYS)})
    if request.method != "POST":
        return neutron_error(405, "HTTPMethodNotAllowed", f"{request.method} is not allowed here.")
    data = _body(request, "security_group")
    _allowed_keys(data, {"name", "description", "stateful", "project_id", "tenant_id", "tags"}, "security_group")
    if data.get("stateful") is False:
        raise NeutronFault(400, "InvalidInput", "Invalid input for operation: Nimbo's security groups are stateful.")
    project = access.project_for_create()
    for key in ("project_id", "tenant_id"):
        if data.get(key) and str(data[key]) != str(project.pk):
            raise NeutronFault(403, "PolicyNotAuthorized", f"Creating a security group in project {data[key]} "
                                                           "is not allowed: use a token scoped to it.")
    access.check_change(SecurityGroup)
    group = services.create_security_group(user=request.user, name=str(data.get("name") or ""),
                                           description=str(data.get("description") or ""), project=project)
    return JsonResponse({"security_group": group_dict(_group(access, group.pk))}, status=201)


@neutron_view("SecurityGroup")
def security_group(request, access, group_id):
    group = _group(access, group_id)
    if request.method == "GET":
        return JsonResponse({"security_group": _fields(group_dict(group), request)})
    if request.method == "PUT":
        data = _body(request, "security_group")
        _allowed_keys(data, {"name", "description", "stateful"}, "security_group")
        access.check_change(SecurityGroup, group)
        fields = {k: str(data[k] or "") for k in ("name", "description") if k in data}
        services.update_security_group(group, user=request.user, **fields)
        return JsonResponse({"security_group": group_dict(_group(access, group.pk))})
    if request.method == "DELETE":
        access.check_change(SecurityGroup, group)
        services.delete_security_group(group, user=request.user)
        return HttpResponse(status=204)
    return neutron_error(405, "HTTPMethodNotAllowed", f"{request.method} is not allowed here.")


RULE_KEYS = {"security_group_id", "direction", "ethertype", "protocol", "port_range_min", "port_range_max",
             "remote_ip_prefix", "remote_group_id", "remote_address_group_id", "description", "project_id",
             "tenant_id"}


def _port(data, key):
    value = data.get(key)
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise NeutronFault(400, "InvalidInput", f"Invalid input for {key}. Reason: '{value}' is not an "
                                                "integer.") from None


@neutron_view("SecurityGroupRule")
def security_group_rules(request, access):
    if request.method == "GET":
        rules = _rules(access)
        group_ids = [_uuid_or_none(v) for v in request.GET.getlist("security_group_id")]
        if group_ids:
            rules = rules.filter(security_group__in=[g for g in group_ids if g])
        items = [rule_dict(r, r.security_group.project_id) for r in rules]
        return JsonResponse({"security_group_rules": _filtered(items, request, RULE_OUT_KEYS)})
    if request.method != "POST":
        return neutron_error(405, "HTTPMethodNotAllowed", f"{request.method} is not allowed here.")
    data = _body(request, "security_group_rule")
    _allowed_keys(data, RULE_KEYS, "security_group_rule")
    if data.get("remote_address_group_id"):
        raise NeutronFault(400, "InvalidInput", "Invalid input for operation: address groups are not supported.")
    if not data.get("security_group_id"):
        raise NeutronFault(400, "InvalidInput", "Invalid input for operation: security_group_id is required.")
    group = _group(access, data["security_group_id"])
    access.check_change(SecurityGroupRule)
    access.check_change(SecurityGroup, group)
    direction = data.get("direction") or Direction.INGRESS
    if direction not in Direction.values:
        raise NeutronFault(400, "InvalidInput", f"Invalid input for direction. Reason: '{direction}' is not in "
                                                "['ingress', 'egress'].")
    prefix = str(data.get("remote_ip_prefix") or "").strip()
    ethertype = data.get("ethertype") or (Ethertype.IPV6 if ":" in prefix else Ethertype.IPV4)
    if ethertype not in Ethertype.values:
        raise NeutronFault(400, "InvalidInput", f"Invalid input for ethertype. Reason: '{ethertype}' is not in "
                                                "['IPv4', 'IPv6'].")
    remote = None
    if data.get("remote_group_id"):
        remote = _group(access, data["remote_group_id"])
    rule = services.add_rule(group, user=request.user, direction=direction, ethertype=ethertype,
                             protocol=parse_protocol(data.get("protocol")),
                             port_range_min=_port(data, "port_range_min"),
                             port_range_max=_port(data, "port_range_max"), remote_ip_prefix=prefix,
                             remote_group=remote, description=str(data.get("description") or ""))
    return JsonResponse({"security_group_rule": rule_dict(_rule(access, rule.pk), group.project_id)}, status=201)


@neutron_view("SecurityGroupRule")
def security_group_rule(request, access, rule_id):
    rule = _rule(access, rule_id)
    if request.method == "GET":
        return JsonResponse({"security_group_rule": _fields(rule_dict(rule, rule.security_group.project_id), request)})
    if request.method == "DELETE":
        access.check_change(SecurityGroupRule, rule)
        services.delete_rule(rule, user=request.user)
        return HttpResponse(status=204)
    return neutron_error(405, "HTTPMethodNotAllowed", f"{request.method} is not allowed here.")
