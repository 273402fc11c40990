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
