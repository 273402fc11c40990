import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .notify import EVENTS_GROUP

ACCESS_TTL = 30  # seconds: a membership given or taken away reaches open sockets within this time


@database_sync_to_async
def _access_for(user):
    from apps.projects.access import for_user

    return for_user(user)


class EventsConsumer(AsyncJsonWebsocketConsumer):
    """/ws/events/: job starts, progress and ends, for logged-in users, each user receiving only
    the events of jobs they may see (their projects' jobs and their own calls; everything for a
    cloud admin, who alone also gets host and router events)."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # 4401: the close code pages read as "log in again".
            await self.close(code=4401)
            return
        await self._refresh_access()
        await self.channel_layer.group_add(EVENTS_GROUP, self.channel_name)
        await self.accept()

    async def _refresh_access(self):
        self.access = await _access_for(self.scope["user"])
        self.access_time = time.monotonic()

    async def disconnect(self, code):
        if self.channel_layer is not None:
            await self.channel_layer.group_discard(EVENTS_GROUP, self.channel_name)

    async def nimbo_event(self, message):
        if time.monotonic() - self.access_time > ACCESS_TTL:
            await self._refresh_access()
        if self.access.may_see_job_event(message["event"]):
            await self.send_json(message["event"])
