"""A libvirt guest's serial console, read from the host that runs it (or ran it last)."""

from apps.core.exceptions import Conflict, InvalidInput
from apps.infra.agent import call_host

from .choices import GuestKind
from .guest_specs import console_path


MAX_SIZE = 1024 * 1024


def console_tail(vm, size=16000):
    """The last `size` bytes of the VM's serial console as text ("" if it never ran)."""
    if not (str(size).isascii() and str(size).isdigit()) or not 0 < int(size) <= MAX_SIZE:
        raise InvalidInput(f"size must be a number of bytes between 1 and {MAX_SIZE}.", field="size")
    size = int(size)
    if vm.guest_kind == GuestKind.NAMESPACE:
        raise Conflict("A namespace guest has no serial console: log in over SSH.", field="guest_kind")
    host = vm.host or vm.last_host
    if host is None:
        return ""
    return call_host(host, "domains.console_tail", {"path": console_path(vm), "size": size}, timeout=15)


def shell_argv(vm):
    """The command that opens a root shell in a running namespace guest (the portal's interactive console).

    Namespace guests live on sandbox hosts, whose namespaces are on this very machine: the shell is
    started here, inside the host agent's mount namespace where the guest's namespaces are named.
    """
    import json
    import sys

    from apps.infra import sandbox
    from workers.host import links

    from .choices import VmState
    from .guest_specs import guest_spec

    if vm.guest_kind != GuestKind.NAMESPACE:
        raise Conflict("The interactive console is for namespace guests; a libvirt guest's serial console is "
                       "shown read-only on its page.", field="guest_kind")
    if vm.state != VmState.RUNNING or vm.host is None:
        raise Conflict(f"VM {vm} is {vm.state}; start it to open its console.", field="state")
    agent = links.read_pid(str(sandbox.machine_dir(vm.host.netns) / "agent.pid"))
    if not agent:
        raise Conflict(f"The agent of host {vm.host} is not running.", field="host")
    spec = guest_spec(vm, vm.host)
    return ["nsenter", f"--mount=/proc/{agent}/ns/mnt", "--", sys.executable, "-m", "workers.host.guest_shell",
            json.dumps(spec), str(_shell_rc())]


def _shell_rc():
    """The console shell's start file: a root prompt, and `ssh root@<guest>` with the key the guests trust
    (as a person logged in to one guest reaches the others in scenario 01)."""
    from pathlib import Path

    from django.conf import settings

    from .guest_specs import guest_key_path

    key = guest_key_path()
    path = Path(settings.VAR_DIR) / "guest-ssh" / "console.rc"
    text = (f"PS1='root@\\h:\\w# '\n"
            f"alias ssh='ssh -i {key} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR'\n")
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path
