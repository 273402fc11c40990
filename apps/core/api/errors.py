"""Central mapping of failures to HTTP: {"error": {"code", "message", "field"}} with 400/404/409.

Bad input never becomes a 500: typed Nimbo errors, Django validation errors, refused deletes
(ProtectedError -> 409 naming what still uses the object) and DRF's own errors all land here.
"""

import re

from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent, ValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from apps.core.exceptions import NimboError
from apps.core.jobs import describe_error


def _first_drf_error(detail, prefix=None):
    """(field, message, code) of the first error in a DRF error detail structure."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            field = key if key != "non_field_errors" else None
            if prefix and field:
                field = f"{prefix}.{field}"
            elif prefix:
                field = prefix
            return _first_drf_error(value, field)
        return prefix, "Invalid input.", "invalid"
    if isinstance(detail, list):
        for index, item in enumerate(detail):
            if item:
                sub = prefix if not isinstance(item, dict) else (f"{prefix}[{index}]" if prefix else None)
                return _first_drf_error(item, sub)
        return prefix, "Invalid input.", "invalid"
    return prefix, str(detail), getattr(detail, "code", "invalid")


_MISSING_VALUE = re.compile(r'=(?P<slug>.*) does not exist\.$|^Invalid pk "(?P<pk>.*)" - object does not exist\.$')


def _not_found_in_body(field, message):
    """DRF's "Object with uuid=X does not exist." for an id given in a body, in Nimbo's words."""
    match = _MISSING_VALUE.search(message)
    value = (match["slug"] if match["slug"] is not None else match["pk"]) if match else None
    return f"{field or 'The object'} {value} not found." if value is not None else message


def _is_duplicate(exc):
    """A unique-constraint refusal from full_clean(): the input is fine, but it already exists."""
    errors = exc.error_dict.values() if hasattr(exc, "error_dict") else [exc.error_list]
    codes = {e.code for group in errors for e in group}
    return bool(codes) and codes <= {"unique", "unique_together"}


def error_response(status, code, message, field=None):
    return Response({"error": {"code": code, "message": message, "field": field}}, status=status)


def exception_handler(exc, context):
    set_rollback()
    if isinstance(exc, NimboError):
        return error_response(exc.status, exc.code, exc.message, exc.field)
    if isinstance(exc, ValidationError):
        message, field = describe_error(exc)
        if _is_duplicate(exc):
            return error_response(409, "duplicate", message, field)
        return error_response(400, "invalid", message, field)
    if isinstance(exc, (ProtectedError, RestrictedError)):
        message, _ = describe_error(exc)
        return error_response(409, "in_use", message)
    if isinstance(exc, IntegrityError):
        return error_response(409, "conflict", "The request conflicts with an existing object.")
    if isinstance(exc, Http404):
        return error_response(404, "not_found", "Not found.")
    if isinstance(exc, PermissionDenied):
        return error_response(403, "permission_denied", "You do not have permission to perform this action.")
    if isinstance(exc, (RequestDataTooBig, TooManyFieldsSent)):
        return error_response(413, "too_large", "The request body is too large.")
    if isinstance(exc, drf.ParseError) and getattr(exc, "field", None):
        return error_response(400, "parse_error", str(exc.detail), exc.field)
    if isinstance(exc, drf.ValidationError):
        field, message, code = _first_drf_error(exc.detail)
        if code == "does_not_exist":
            # An unknown id in a body stays a 400 (the request is wrong and names the field); the
            # same id in a URL is a 404.
            return error_response(400, "not_found", _not_found_in_body(field, message), field)
        return error_response(400, str(code), message, field)
    if isinstance(exc, drf.APIException):
        response = error_response(exc.status_code, exc.default_code, str(exc.detail))
        if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
            response["WWW-Authenticate"] = 'Token realm="api"'
        if getattr(exc, "wait", None):
            response["Retry-After"] = str(int(exc.wait))
        return response
    return None
