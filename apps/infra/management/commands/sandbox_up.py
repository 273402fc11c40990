"""manage.py sandbox_up: reconnect the sandbox hosts whose machine or agent is gone (run by `make run`)."""

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Reconnect, as jobs, the sandbox hosts whose namespace or agent is gone (after sandbox_down or a reboot)."

    def handle(self, *args, **options):
        from apps.infra.sandbox_life import bring_back

        for job in bring_back():
            self.stdout.write(f"{job.kind} {job.target_name}: job {job.uuid}")
