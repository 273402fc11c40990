"""A libvirt guest's serial console, read from the host that runs it (or ran it last)."""

from apps.core.exceptions import Conflict
from apps.infra.agent import call_host

from .choices import GuestKind
from .guest_specs import console_path


def console_tail(vm, size=16000):
    """The last `size` bytes of the VM's serial console as text ("" if it never ran)."""
    if vm.guest_kind == GuestKind.NAMESPACE:
        raise Conflict("A namespace guest has no serial console: log in over SSH.", field="guest_kind")
    host = vm.host or vm.last_host
    if host is None:
        return ""
    return call_host(host, "domains.console_tail", {"path": console_path(vm), "size": size}, timeout=15)
