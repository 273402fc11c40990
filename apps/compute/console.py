"""A libvirt guest's serial console, read from the host that runs it (or ran it last)."""

from apps.core.exceptions import Conflict, InvalidInput
from apps.infra.agent import call_host

from .choices import GuestKind
from .guest_specs import console_path


MAX_SIZE = 1024 * 1024


def console_tail(vm, size=16000):
    """The last `size` bytes of the VM's serial console as text ("" if it never ran)."""
    if not str(size).isdigit() or not 0 < int(size) <= MAX_SIZE:
        raise InvalidInput(f"size must be a number of bytes between 1 and {MAX_SIZE}.", field="size")
    size = int(size)
    if vm.guest_kind == GuestKind.NAMESPACE:
        raise Conflict("A namespace guest has no serial console: log in over SSH.", field="guest_kind")
    host = vm.host or vm.last_host
    if host is None:
        return ""
    return call_host(host, "domains.console_tail", {"path": console_path(vm), "size": size}, timeout=15)
