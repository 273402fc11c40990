"""One way to tell every open page that something happened: the Channels group "events"."""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger("nimbo.core.notify")
EVENTS_GROUP = "events"


def notify(event):
    """Send a plain-data event to every logged-in websocket on /ws/events/.

    A notification that cannot be delivered (Redis down) must not fail the operation that
    caused it: it is logged and dropped, and pages catch up through HTMX polling.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(EVENTS_GROUP, {"type": "nimbo.event", "event": event})
    except Exception:  # noqa: BLE001 - delivery is best effort by design, see docstring
        log.warning("could not deliver event %s", event.get("kind"), exc_info=True)


def notify_job(job):
    notify({"type": "job", "job": job.as_event(), "message": job.message})
