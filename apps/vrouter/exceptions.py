from apps.core.exceptions import Conflict


class PortConflict(Conflict):
    """A port range clashes with another rule's on the same VIP (or the same NIC)."""

    code = "port_conflict"


class VipInUse(Conflict):
    """The VIP already serves a use that cannot share it."""

    code = "vip_in_use"
