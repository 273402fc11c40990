"""manage.py resolve_interrupted_jobs: fail the Jobs a stop of the management node interrupted (run by `make run`)."""

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Fail, with the reason, every Job that was running or queued when the management node stopped."

    def handle(self, *args, **options):
        from apps.core.recovery import resolve_interrupted_jobs

        for job in resolve_interrupted_jobs():
            self.stdout.write(f"{job.kind} {job.target_name}: {job.error}")
