"""manage.py host_monitor: watch the host agents' heartbeats (started by `make run`)."""

import os
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections


class Command(BaseCommand):
    help = "Turn hosts Disconnected when their agent stops beating, and Connected again when it beats."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=float(os.environ.get("NIMBO_HOST_MONITOR_INTERVAL", 5)))
        parser.add_argument("--once", action="store_true", help="one pass, then exit")

    def handle(self, *args, interval, once, **options):
        from apps.infra.monitor import check_hosts

        while True:
            try:
                check_hosts()
            except Exception as exc:  # noqa: BLE001 - Redis or the database away for a moment
                self.stderr.write(f"host check failed: {exc}")
            close_old_connections()
            if once:
                return
            time.sleep(interval)
