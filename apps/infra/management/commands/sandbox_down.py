"""manage.py sandbox_down: stop what of the sandbox outlives `make run` (see apps/infra/sandbox_life.py)."""

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = ("Take the sandbox hosts down: their guests, virtual routers, agents, sshd and namespaces. "
            "VMs become Stopped and hosts Disconnected; the next `make run` reconnects the hosts.")

    def add_arguments(self, parser):
        parser.add_argument("--list", action="store_true", help="only say what of the sandbox runs now")

    def handle(self, *args, list=False, **options):
        from apps.infra.sandbox_life import running, take_down

        if list:
            for line in running():
                self.stdout.write(line)
            return
        done = take_down()
        self.stdout.write(f"Sandbox taken down: {done['hosts']} host(s), {done['routers']} virtual router(s), "
                          f"{done['guests']} running guest(s) stopped.")
        for line in done["not_stopped"]:
            self.stderr.write(f"Not stopped (still defined in libvirt, its state kept): {line}")
