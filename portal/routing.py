from django.urls import path

from apps.compute.consumers import VmConsoleConsumer
from apps.core.consumers import EventsConsumer

websocket_urlpatterns = [
    path("ws/events/", EventsConsumer.as_asgi()),
    path("ws/vms/<uuid:uuid>/console/", VmConsoleConsumer.as_asgi()),
]
