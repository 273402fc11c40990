"""Rule vocabulary of both views: Neutron's (direction, ethertype, protocol name or number) and
ZStack's (type Ingress/Egress, protocol TCP/UDP/ICMP/ALL, IP version 4/6)."""

from django.db import models


class Direction(models.TextChoices):
    INGRESS = "ingress", "Ingress"
    EGRESS = "egress", "Egress"


class Ethertype(models.TextChoices):
    IPV4 = "IPv4", "IPv4"
    IPV6 = "IPv6", "IPv6"


TCP, UDP, ICMP, ICMPV6, SCTP = 6, 17, 1, 58, 132

# Neutron's protocol names (what `openstack security group rule create --protocol` accepts).
PROTOCOL_NUMBERS = {
    "ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1, "igmp": 2, "ipip": 4,
    "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58, "icmpv6": 58, "ipv6-nonxt": 59, "ipv6-opts": 60,
    "ipv6-route": 43, "ospf": 89, "pgm": 113, "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136,
    "vrrp": 112,
}
PROTOCOL_NAMES = {number: name for name, number in PROTOCOL_NUMBERS.items() if name != "icmpv6"}
PORT_PROTOCOLS = {TCP, UDP, SCTP}
ICMP_PROTOCOLS = {ICMP, ICMPV6}
ANY_PROTOCOL = ("any", "all", "")


def protocol_label(number):
    """Neutron's name for a protocol number ("tcp"), the number as text if unnamed, "any" for None."""
    if number is None:
        return "any"
    return PROTOCOL_NAMES.get(number, str(number))


# ZStack's view: TCP/UDP/ICMP/ALL (other protocols show as their number).
ZSTACK_PROTOCOLS = {"TCP": TCP, "UDP": UDP, "ICMP": ICMP, "ALL": None}
ZSTACK_TYPES = {"Ingress": Direction.INGRESS, "Egress": Direction.EGRESS}
ZSTACK_IP_VERSIONS = {4: Ethertype.IPV4, 6: Ethertype.IPV6}
