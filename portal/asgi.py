"""HTTP (Django) and websockets (Channels) on one ASGI application."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

from django.core.asgi import get_asgi_application

django_asgi = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from portal.routing import websocket_urlpatterns  # noqa: E402
from apps.core.ws_auth import OriginValidator, auth_stack  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi,
        "websocket": OriginValidator(auth_stack(URLRouter(websocket_urlpatterns))),
    }
)
