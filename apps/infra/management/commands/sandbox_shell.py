"""manage.py sandbox_shell: a shell on the sandbox physical network, to ssh and ping guests from.

    manage.py sandbox_shell                       # on the untagged (flat/public) network, 198.51.100.250/24
    manage.py sandbox_shell PRIVATE-L2 --address 10.0.0.250/24   # on that L2 network's VLAN
    manage.py sandbox_shell -c "ping -c1 198.51.100.231"
    manage.py sandbox_shell --remove               # remove the client namespace

The shell runs in a client namespace plugged into the sandbox switch (apps/infra/sandbox.py);
the machine's own interfaces and routes are not touched.
"""

import os
import shutil

from django.core.management.base import BaseCommand, CommandError

from apps.infra import sandbox


class Command(BaseCommand):
    help = "Open a shell in a client namespace on the sandbox physical network (or on an L2 network's VLAN)."

    def add_arguments(self, parser):
        parser.add_argument("l2", nargs="?", default="", help="L2 network name (its VLAN); default: untagged")
        parser.add_argument("--address", default="", help="address/prefix of the client (default .250 of the flat net)")
        parser.add_argument("--gateway", default="", help="default route of the client")
        parser.add_argument("--name", default="client", help="client name (several clients can coexist)")
        parser.add_argument("-c", "--command", default="", help="run this command instead of an interactive shell")
        parser.add_argument("--remove", action="store_true", help="remove the client namespace and exit")

    def handle(self, *args, l2, address, gateway, name, command, remove, **options):
        vlan = None
        if l2:
            from apps.networks.models import L2Network

            found = L2Network.objects.filter(name=l2).first()
            if found is None:
                raise CommandError(f"No L2 network named {l2}.")
            vlan = found.vlan
        suffix = f"{name}-v{vlan}" if vlan else name
        ns = f"nimbo-c-{sandbox.phys_netns()[-6:]}-{suffix}"
        if remove:
            sandbox.run("ip", "netns", "del", ns, check=False)
            self.stdout.write(f"removed {ns}")
            return
        ns = sandbox.ensure_client(suffix, address or ("10.0.0.250/24" if vlan else "198.51.100.250/24"),
                                   vlan=vlan, gateway=gateway or None)
        shell = os.environ.get("SHELL") or shutil.which("bash") or "/bin/sh"
        argv = ["ip", "netns", "exec", ns, shell] + (["-c", command] if command else [])
        if not command:
            on_vlan = f" (VLAN {vlan})" if vlan else ""
            self.stderr.write(f"Shell in {ns} on the sandbox network{on_vlan}; exit to leave.")
        os.execvp("ip", argv)
