"""/ws/vms/<uuid>/console/: the browser's terminal (xterm.js) bridged to a shell in a namespace guest.

Text frames from the browser are keystrokes; a JSON frame {"resize": [cols, rows]} sizes the
terminal. The shell runs on a pseudo-terminal and ends with the socket.
"""

import asyncio
import fcntl
import json
import os
import pty
import signal
import struct
import termios

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings


@database_sync_to_async
def _console_argv(user, uuid):
    """The shell's command if `user` may change this VM, else (None, reason)."""
    from apps.core.exceptions import NimboError
    from apps.projects.access import for_user

    from .console import shell_argv
    from .models import VmInstance

    access = for_user(user)
    vm = access.scope(VmInstance.objects.select_related("host__cluster")).filter(pk=uuid).first()
    if vm is None or not access.can_change(VmInstance, vm):
        return None, "No such VM."
    if not access.is_admin:
        # A namespace guest shares the management machine's files: its shell is for cloud admins only.
        return None, "The console of a namespace guest is for cloud admins (it shares the management machine's files)."
    try:
        return shell_argv(vm), None
    except NimboError as exc:
        return None, exc.message


class VmConsoleConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.proc = self.master = None
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        argv, refusal = await _console_argv(user, self.scope["url_route"]["kwargs"]["uuid"])
        await self.accept()
        if argv is None:
            await self.send(text_data=f"\r\n{refusal}\r\n")
            await self.close(code=4409)
            return
        self.master, slave = pty.openpty()
        env = {**os.environ, "PYTHONPATH": str(settings.BASE_DIR)}
        self.proc = await asyncio.create_subprocess_exec(
            *argv, stdin=slave, stdout=slave, stderr=slave, cwd=settings.BASE_DIR, env=env, start_new_session=True)
        os.close(slave)
        os.set_blocking(self.master, False)
        asyncio.get_running_loop().add_reader(self.master, self._readable)
        self.waiter = asyncio.create_task(self._wait())

    def _readable(self):
        try:
            data = os.read(self.master, 65536)
        except OSError:
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self.master)
            return
        asyncio.ensure_future(self.send(text_data=data.decode("utf-8", errors="replace")))

    async def _wait(self):
        await self.proc.wait()
        await asyncio.sleep(0.2)  # the last output first
        await self.send(text_data="\r\n[the shell ended]\r\n")
        await self.close()

    async def receive(self, text_data=None, bytes_data=None):
        if self.master is None:
            return
        if text_data and text_data.startswith('{"resize"'):
            try:
                cols, rows = (max(1, min(int(n), 1000)) for n in json.loads(text_data)["resize"])
            except (ValueError, KeyError, TypeError):
                return
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            return
        data = (text_data or "").encode() if bytes_data is None else bytes_data
        try:
            os.write(self.master, data[:65536])
        except OSError:
            pass

    async def disconnect(self, code):
        if self.master is not None:
            asyncio.get_running_loop().remove_reader(self.master)
        if self.proc is not None and self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, signal.SIGHUP)
            except ProcessLookupError:
                pass
        if self.master is not None:
            os.close(self.master)
            self.master = None
