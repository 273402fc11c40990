"""Failures of the network services that callers may want to catch by type."""

from apps.core.exceptions import Conflict


class IpRangeExhausted(Conflict):
    """No free address is left in the L3 network's IP ranges."""

    code = "ip_range_exhausted"


class IpAddressInUse(Conflict):
    """A specifically requested address is already handed out."""

    code = "ip_in_use"
