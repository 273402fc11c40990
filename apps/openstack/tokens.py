"""Keystone tokens as Nimbo reads them: a signed, expiring ticket naming a user, a project and the
user's Nimbo API token (only a digest of it).

Nothing is stored: the ticket is checked on each request. It holds a digest of the user's API token
(the one `POST /api/v1/auth/token/` and the portal's token page show), so revoking that API token, or
deactivating the user, ends every OpenStack token of the user at once.
"""

import dataclasses
import datetime
import hashlib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.utils import timezone
from rest_framework.authtoken.models import Token

SALT = "nimbo.openstack.token"


def ttl():
    return int(getattr(settings, "NIMBO_OPENSTACK_TOKEN_TTL", 3600))


def _digest(key):
    return hashlib.sha256(key.encode()).hexdigest()[:24]


@dataclasses.dataclass
class Ticket:
    user: object
    project_id: str | None
    issued_at: datetime.datetime
    expires_at: datetime.datetime


def issue(user, project):
    """(token text, Ticket) for `user` scoped to `project` (a Project or None)."""
    api_token, _ = Token.objects.get_or_create(user=user)
    now = timezone.now().replace(microsecond=0)
    payload = {"u": user.pk, "p": str(project.pk) if project else None, "k": _digest(api_token.key)}
    text = signing.TimestampSigner(salt=SALT).sign_object(payload, compress=True)
    return text, Ticket(user, payload["p"], now, now + datetime.timedelta(seconds=ttl()))


def check(text):
    """The Ticket of a token text, or None when it is forged, expired, revoked or its user inactive."""
    try:
        payload = signing.TimestampSigner(salt=SALT).unsign_object(text, max_age=ttl())
    except (signing.BadSignature, ValueError, TypeError):
        return None
    user = get_user_model().objects.filter(pk=payload.get("u"), is_active=True).first()
    api_token = Token.objects.filter(user=user).first() if user else None
    if api_token is None or _digest(api_token.key) != payload.get("k"):
        return None
    return Ticket(user, payload.get("p"), None, None)
