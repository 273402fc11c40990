"""Reconcile every host's security-group firewall now (and keep doing it every minute with --schedule)."""

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Compare each host's live security-group chains with the database, repair and record any drift."

    def add_arguments(self, parser):
        parser.add_argument("--schedule", action="store_true",
                            help="only make sure the periodic reconcile is scheduled on the RQ scheduler")

    def handle(self, *args, schedule=False, **options):
        if schedule:
            from apps.secgroups.sync import schedule_reconcile

            schedule_reconcile()
            self.stdout.write("Periodic reconcile scheduled.")
            return
        from apps.secgroups.jobs import reconcile_all

        for host, outcome in reconcile_all().items():
            self.stdout.write(f"{host}: {outcome if isinstance(outcome, str) else f'{outcome} rules repaired'}")
