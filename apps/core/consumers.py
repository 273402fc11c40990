from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .notify import EVENTS_GROUP


class EventsConsumer(AsyncJsonWebsocketConsumer):
    """/ws/events/: every job start, progress and end, for logged-in users only."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # 4401: the close code pages read as "log in again".
            await self.close(code=4401)
            return
        await self.channel_layer.group_add(EVENTS_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if self.channel_layer is not None:
            await self.channel_layer.group_discard(EVENTS_GROUP, self.channel_name)

    async def nimbo_event(self, message):
        await self.send_json(message["event"])
