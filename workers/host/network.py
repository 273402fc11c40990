"""L2 networks on a host: bridges over the physical interface, with pyroute2 (netlink).

- NoVlan on `eth0`: bridge `br_eth0` with eth0 as its uplink.
- VLAN 100 on `eth0`: sub-interface `eth0.100` (802.1Q) and bridge `br_eth0_100` with it as uplink.

On a sandbox host (NIMBO_SANDBOX_PHYS names the sandbox physical-network namespace) `eth0.100`
is the host's own wire into the switch bridge `br-v100` of that namespace instead of an 802.1Q
sub-interface (see apps/infra/sandbox.py): the same names, the same separation between VLANs.

Operations are idempotent: ensuring an existing bridge repairs it (uplink enslaved, links up);
removing a missing one is a no-op; a bridge with ports other than its uplink is in use and stays.
"""

import contextlib

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from .ops import HostOpError, host_uuid, operation, sandbox_phys

MAX_IFNAME = 15
PHYS_VLAN_BRIDGE = "br-v{vlan}"


def bridge_name(interface, vlan=None):
    return f"br_{interface}_{vlan}" if vlan else f"br_{interface}"


def uplink_name(interface, vlan=None):
    return f"{interface}.{vlan}" if vlan else interface


def _check(interface, vlan):
    if not interface or "/" in interface or " " in interface:
        raise HostOpError(f"{interface!r} is not an interface name.")
    if vlan is not None and not 1 <= int(vlan) <= 4094:
        raise HostOpError(f"VLAN {vlan} is outside 1-4094.")
    name = bridge_name(interface, vlan)
    if len(name) > MAX_IFNAME:
        raise HostOpError(f"The bridge name {name} would be longer than {MAX_IFNAME} characters.")


def _index(ipr, name):
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def _ports(ipr, bridge_index):
    return [link.get("ifname") for link in ipr.get_links() if link.get("master") == bridge_index]


def _ensure_vlan_uplink(ipr, interface, vlan):
    name = uplink_name(interface, vlan)
    index = _index(ipr, name)
    if index is not None:
        return index
    phys = sandbox_phys()
    if phys:
        _ensure_sandbox_wire(ipr, name, vlan, phys)
    else:
        parent = _index(ipr, interface)
        if parent is None:
            raise HostOpError(f"The physical interface {interface} does not exist on this host.")
        ipr.link("add", ifname=name, kind="vlan", link=parent, vlan_id=int(vlan))
        ipr.link("set", index=parent, state="up")
    return _index(ipr, name)


def _ensure_sandbox_wire(ipr, name, vlan, phys):
    """The sandbox host's wire for `vlan`: veth `name` here, its peer on the switch's VLAN bridge."""
    peer = f"v{host_uuid().replace('-', '')[:8]}.{vlan}"
    with IPRoute(netns=phys, flags=0) as switch:
        stale = _index(switch, peer)
        if stale is not None:
            switch.link("del", index=stale)
        bridge = PHYS_VLAN_BRIDGE.format(vlan=vlan)
        if _index(switch, bridge) is None:
            with contextlib.suppress(NetlinkError):
                switch.link("add", ifname=bridge, kind="bridge")
        switch.link("set", index=_index(switch, bridge), state="up")
    ipr.link("add", ifname=name, kind="veth", peer={"ifname": peer, "net_ns_fd": phys})
    with IPRoute(netns=phys, flags=0) as switch:
        switch.link("set", index=_index(switch, peer), master=_index(switch, bridge), state="up")


@operation("network.ensure_l2")
def ensure_l2(interface, vlan=None):
    """Make sure the L2 network's bridge exists with its uplink: {"bridge", "uplink", "created"}."""
    _check(interface, vlan)
    bridge = bridge_name(interface, vlan)
    with IPRoute() as ipr:
        if vlan:
            uplink = _ensure_vlan_uplink(ipr, interface, vlan)
        else:
            uplink = _index(ipr, interface)
            if uplink is None:
                raise HostOpError(f"The physical interface {interface} does not exist on this host.")
        index = _index(ipr, bridge)
        created = index is None
        if created:
            # No STP, no forwarding delay: guests get their DHCP answer at once.
            ipr.link("add", ifname=bridge, kind="bridge", br_stp_state=0, br_forward_delay=0)
            index = _index(ipr, bridge)
        ipr.link("set", index=uplink, master=index, state="up")
        ipr.link("set", index=index, state="up")
    return {"bridge": bridge, "uplink": uplink_name(interface, vlan), "created": created}


def ensure_bridges(networks):
    """`ensure_l2` for each {"interface", "vlan"} of `networks`: the bridges a guest or a router plugs
    into. In process, about a millisecond each when all is in place."""
    for l2 in networks or ():
        ensure_l2(l2["interface"], l2.get("vlan"))


@operation("network.remove_l2")
def remove_l2(interface, vlan=None, force=False):
    """Remove the bridge (and the VLAN uplink) if nothing but its uplink is plugged in.

    {"bridge", "removed", "in_use": [ports]}; `force` removes it anyway (guests lose the network).
    """
    _check(interface, vlan)
    bridge = bridge_name(interface, vlan)
    uplink = uplink_name(interface, vlan)
    with IPRoute() as ipr:
        index = _index(ipr, bridge)
        in_use = [] if index is None else [p for p in _ports(ipr, index) if p != uplink]
        if in_use and not force:
            return {"bridge": bridge, "removed": False, "in_use": in_use}
        if index is not None:
            ipr.link("del", index=index)
        if vlan:
            sub = _index(ipr, uplink)
            if sub is not None:
                ipr.link("del", index=sub)  # a veth takes its switch-side peer with it
    return {"bridge": bridge, "removed": index is not None, "in_use": in_use}


@operation("network.converge_l2")
def converge_l2(networks, remove_unlisted=True):
    """The whole L2 scope of the host: every listed network's bridge exists; Nimbo bridges of
    networks no longer listed go when unused. {"ensured": [...], "removed": [...], "kept": [...]}."""
    wanted = {bridge_name(n["interface"], n.get("vlan")) for n in networks}
    ensured = [ensure_l2(n["interface"], n.get("vlan"))["bridge"] for n in networks]
    removed, kept = [], []
    if remove_unlisted:
        for bridge, interface, vlan in list_l2():
            if bridge in wanted:
                continue
            outcome = remove_l2(interface, vlan)
            (removed if outcome["removed"] else kept).append(bridge)
    return {"ensured": ensured, "removed": removed, "kept": kept}


def list_l2():
    """(bridge, interface, vlan) of the Nimbo L2 bridges on this host (named br_<if>[_<vlan>])."""
    found = []
    with IPRoute() as ipr:
        for link in ipr.get_links():
            name = link.get("ifname") or ""
            info = link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND")
            if not name.startswith("br_") or info != "bridge":
                continue
            rest = name[3:]
            head, _, tail = rest.rpartition("_")
            if head and tail.isdigit():
                found.append((name, head, int(tail)))
            else:
                found.append((name, rest, None))
    return found


@operation("network.list_l2")
def list_l2_op():
    return [{"bridge": b, "interface": i, "vlan": v} for b, i, v in list_l2()]
