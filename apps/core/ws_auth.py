"""Websocket login: the portal's session cookie, or `?token=` for API clients (the same tokens)."""

from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware


@database_sync_to_async
def _user_for_token(key):
    from rest_framework.authtoken.models import Token

    try:
        return Token.objects.select_related("user").get(key=key).user
    except Token.DoesNotExist:
        return None


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        token = parse_qs(scope.get("query_string", b"").decode()).get("token", [None])[0]
        if token and not getattr(scope.get("user"), "is_authenticated", False):
            user = await _user_for_token(token)
            if user is not None and user.is_active:
                scope = dict(scope, user=user)
        return await super().__call__(scope, receive, send)


def auth_stack(inner):
    return AuthMiddlewareStack(TokenAuthMiddleware(inner))


def origin_allowed(scope):
    """A browser's websocket must come from a page of this portal: its Origin is the Host it
    connects to, a trusted origin (CSRF_TRUSTED_ORIGINS) or one of ALLOWED_HOSTS. Unlike Channels'
    AllowedHostsOriginValidator, ALLOWED_HOSTS = ['*'] does not turn this off (a page on any
    site could otherwise open a socket with the user's session cookie). A client that sends no
    Origin is not a browser (the CLI, with a token) and is let through to the login check."""
    from urllib.parse import urlsplit

    from django.conf import settings
    from django.http.request import validate_host

    headers = dict(scope.get("headers") or [])
    origin = headers.get(b"origin", b"").decode("latin-1").strip()
    if not origin:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = headers.get(b"host", b"").decode("latin-1").strip().lower()
    if host and parts.netloc.lower() == host:
        return True
    if f"{parts.scheme}://{parts.netloc}".lower() in {o.lower().rstrip("/") for o in settings.CSRF_TRUSTED_ORIGINS}:
        return True
    explicit = [h for h in settings.ALLOWED_HOSTS if h != "*"]
    return validate_host(parts.hostname, explicit)


class OriginValidator:
    """Refuse (close 403) a websocket whose Origin is not this portal's; see origin_allowed()."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            from channels.security.websocket import WebsocketDenier

            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
