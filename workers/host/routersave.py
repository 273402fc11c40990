"""Reading a virtual router's NAT back as it is, with packet counters, for the packet trace (read only)."""

from .ops import payload_operation
from .router import RouterSpec, _in_ns


@payload_operation("router.save_tables")
def save_tables(spec):
    """`iptables-save -c` of the router's namespace (nat and filter: the router holds nothing else)."""
    spec = RouterSpec.from_dict(spec)
    return {"text": _in_ns(spec, "iptables-save", "-c", check=False).stdout}
