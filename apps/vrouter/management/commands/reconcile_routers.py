"""Check every virtual router now (and keep doing it every minute with --schedule)."""

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Re-apply every virtual router on its host; rebuild and record what had died (dnsmasq, namespace, leg)."

    def add_arguments(self, parser):
        parser.add_argument("--schedule", action="store_true",
                            help="only make sure the periodic check is scheduled on the RQ scheduler")

    def handle(self, *args, schedule=False, **options):
        from apps.vrouter.routers import check_routers, schedule_reconcile

        if schedule:
            schedule_reconcile()
            self.stdout.write("Periodic router check scheduled.")
            return
        repaired = check_routers()
        for name, parts in repaired.items():
            self.stdout.write(f"{name}: repaired {', '.join(parts)}")
        if not repaired:
            self.stdout.write("Every router is as it should be.")
