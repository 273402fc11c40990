"""The security-group firewall's names and numbers, shared by its compiler and its host applier.

`apps.secgroups.compile` writes chains and ipsets under these names; `workers.host.firewall` finds,
reads back and removes them by the same names. Both import them from here, so a name can change in
one place only. Plain Python: no Django, nothing of the host.
"""

import functools
import hashlib

PREFIX = "nimbo-"  # every chain and ipset of Nimbo's firewall, and nothing else, starts with it
TOP_CHAIN = "nimbo-FORWARD"  # the one jump from FORWARD (filter table) lands here
L2_TOP_CHAIN = "nimbo-PREROUTING"  # the one jump from PREROUTING (ebtables' nat table) lands here
SG_CHAIN = "nimbo-sg"
IN_CHAIN = "nimbo-in"
GROUP_INGRESS_PREFIX = "nimbo-gi-"
GROUP_EGRESS_PREFIX = "nimbo-ge-"

# IP protocol numbers, and their names as iptables-save prints them (from /etc/protocols).
ICMP, TCP, UDP, ICMPV6, SCTP = 1, 6, 17, 58, 132
PROTOCOL_NAMES = {ICMP: "icmp", TCP: "tcp", UDP: "udp", 47: "gre", 50: "esp", 51: "ah", ICMPV6: "ipv6-icmp",
                  SCTP: "sctp"}
PORT_PROTOCOLS = frozenset({TCP, UDP, SCTP})
ICMP_PROTOCOLS = frozenset({ICMP, ICMPV6})
# UDP ports of DHCP (67/68) and DHCPv6 (546/547): always let through, whatever the groups say.
DHCP_PORTS = frozenset({67, 68, 546, 547})


@functools.lru_cache(maxsize=65536)
def short_id(value):
    """12 hex characters that stay the same for an object: its uuid's, or a hash of its id."""
    text = str(value).replace("-", "").lower()
    if len(text) >= 12 and all(c in "0123456789abcdef" for c in text[:12]):
        return text[:12]
    return hashlib.sha1(str(value).encode()).hexdigest()[:12]


def nic_chains(nic_id):
    """(ingress, defaults, egress) chain names: at most 20 characters (iptables allows 28)."""
    key = short_id(nic_id)
    return f"nimbo-i-{key}", f"nimbo-s-{key}", f"nimbo-o-{key}"


def l2_chain(nic_id):
    """The NIC's ebtables chain (MAC and ARP anti-spoofing): 20 characters (ebtables allows 31)."""
    return f"nimbo-l-{short_id(nic_id)}"


def group_chains(group_id):
    """(ingress, egress) chains holding a group's rules, shared by every NIC of the group on the host."""
    key = short_id(group_id)
    return f"{GROUP_INGRESS_PREFIX}{key}", f"{GROUP_EGRESS_PREFIX}{key}"


def ipset_name(group_id, family):
    """The set of a group's member addresses (at most 19 characters; ipset allows 31)."""
    return f"nimbo-g{short_id(group_id)}-{family[1]}"
