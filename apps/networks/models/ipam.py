"""IP ranges of an L3 network and the addresses handed out from them (see apps.networks.ipam)."""

import ipaddress
import uuid

from django.core.exceptions import ValidationError
from django.db import models

from apps.core.models import BaseModel

from ..validators import validate_netmask
from .l3 import L3Network


MIN_PREFIX = 8  # a /8 is already 16 million addresses; 0.0.0.0/1 is a mistake, not a subnet


def unusable_reason(network):
    """Why an IPv4 subnet cannot hold guests' addresses (too large, loopback, multicast...), or None."""
    if network.prefixlen < MIN_PREFIX:
        return f"The subnet {network} is too large; use a prefix of /{MIN_PREFIX} or longer."
    for kind, test in (("\"this network\" (0.0.0.0/8)", lambda n: n.subnet_of(ipaddress.IPv4Network("0.0.0.0/8"))),
                       ("loopback", lambda n: n.is_loopback), ("link-local", lambda n: n.is_link_local),
                       ("multicast", lambda n: n.is_multicast), ("reserved", lambda n: n.is_reserved)):
        if test(network):
            return f"{network} is a {kind} subnet; guests cannot use its addresses."
    return None


def cidr_to_range(cidr):
    """start/end/netmask/gateway of a CIDR: the gateway is the first usable address, the range the rest."""
    try:
        network = ipaddress.IPv4Network(cidr, strict=False)
    except ValueError:
        raise ValidationError(
            {"network_cidr": "Enter an IPv4 network in CIDR notation, such as 10.0.0.0/24."}) from None
    if str(network.network_address) != str(cidr).split("/")[0]:
        raise ValidationError({"network_cidr": f"{cidr} is not a network address; did you mean {network}?"})
    if network.prefixlen > 30:
        raise ValidationError({"network_cidr": "The network needs at least 4 addresses (a prefix of /30 or shorter)."})
    if unusable_reason(network):
        raise ValidationError({"network_cidr": unusable_reason(network)})
    first = int(network.network_address) + 1
    last = int(network.broadcast_address) - 1
    as_ip = ipaddress.IPv4Address
    return {"start_ip": str(as_ip(first + 1)), "end_ip": str(as_ip(last)), "netmask": str(network.netmask),
            "gateway": str(as_ip(first))}


class IpRange(BaseModel):
    """Addresses start_ip..end_ip of an L3 network's subnet (gateway/netmask), handed out by IPAM.

    `start_int`/`end_int` mirror the addresses as integers for overlap checks and allocation;
    `cursor` is where the next allocation starts looking, so its cost does not grow with use.
    """

    l3_network = models.ForeignKey(L3Network, on_delete=models.CASCADE, related_name="ip_ranges",
                                   verbose_name="L3 network")
    start_ip = models.GenericIPAddressField(protocol="IPv4", verbose_name="start IP")
    end_ip = models.GenericIPAddressField(protocol="IPv4", verbose_name="end IP")
    netmask = models.CharField(max_length=15, validators=[validate_netmask], verbose_name="netmask")
    gateway = models.GenericIPAddressField(protocol="IPv4", verbose_name="gateway")
    start_int = models.BigIntegerField(editable=False, default=0, verbose_name="start (integer)")
    end_int = models.BigIntegerField(editable=False, default=0, verbose_name="end (integer)")
    cursor = models.BigIntegerField(editable=False, default=0, verbose_name="allocation cursor")

    class Meta:
        ordering = ["l3_network", "start_int"]
        verbose_name = "IP range"
        constraints = [
            models.UniqueConstraint(fields=["l3_network", "name"],
                                    name="%(app_label)s_%(class)s_unique_l3_network_name"),
            models.CheckConstraint(condition=models.Q(start_int__lte=models.F("end_int")),
                                   name="%(app_label)s_%(class)s_start_lte_end"),
        ]

    @property
    def network(self):
        return ipaddress.IPv4Network(f"{self.gateway}/{self.netmask}", strict=False)

    @property
    def network_cidr(self):
        return str(self.network)

    @property
    def prefix_length(self):
        return self.network.prefixlen

    @property
    def size(self):
        return self.end_int - self.start_int + 1

    def _parsed(self):
        try:
            start, end = ipaddress.IPv4Address(self.start_ip), ipaddress.IPv4Address(self.end_ip)
            gateway = ipaddress.IPv4Address(self.gateway)
            validate_netmask(self.netmask)
        except (ValueError, ValidationError, TypeError):
            return None
        return start, end, gateway, ipaddress.IPv4Network(f"{gateway}/{self.netmask}", strict=False)

    def save(self, *args, **kwargs):
        self.start_int = int(ipaddress.IPv4Address(self.start_ip))
        self.end_int = int(ipaddress.IPv4Address(self.end_ip))
        if not self.start_int <= self.cursor <= self.end_int:
            self.cursor = self.start_int
        super().save(*args, **kwargs)

    def clean(self):
        super().clean()
        parsed = self._parsed()
        if parsed is None:
            return  # the field validators report the bad address
        start, end, gateway, network = parsed
        if unusable_reason(network):
            field = "netmask" if network.prefixlen < MIN_PREFIX else "gateway"
            raise ValidationError({field: unusable_reason(network)})
        if start > end:
            raise ValidationError({"end_ip": f"End IP {end} is lower than start IP {start}."})
        for field, ip in (("start_ip", start), ("end_ip", end)):
            if ip not in network:
                raise ValidationError({field: f"{ip} is not in the subnet {network} of gateway {gateway}."})
            if network.prefixlen < 31 and ip in (network.network_address, network.broadcast_address):
                kind = "network" if ip == network.network_address else "broadcast"
                raise ValidationError({field: f"{ip} is the {kind} address of {network}."})
        if gateway in (network.network_address, network.broadcast_address) and network.prefixlen < 31:
            raise ValidationError({"gateway": f"Gateway {gateway} is not a usable address of {network}."})
        if start <= gateway <= end:
            raise ValidationError({"gateway": f"Gateway {gateway} must be outside the range {start}-{end}."})
        if not self.l3_network_id:
            return
        others = IpRange.objects.filter(l3_network_id=self.l3_network_id).exclude(pk=self.pk)
        first = others.first()
        if first is not None and (first.gateway != str(gateway) or first.netmask != self.netmask):
            raise ValidationError({"gateway": (
                f"All IP ranges of L3 network {self.l3_network} share gateway {first.gateway} and netmask "
                f"{first.netmask}.")})
        overlap = others.filter(start_int__lte=int(end), end_int__gte=int(start)).first()
        if overlap is not None:
            raise ValidationError({"start_ip": (
                f"The range {start}-{end} overlaps IP range {overlap.name} ({overlap.start_ip}-{overlap.end_ip}).")})

    def contains(self, ip):
        return self.start_int <= int(ipaddress.IPv4Address(ip)) <= self.end_int


class UsedIp(models.Model):
    """One address handed out on an L3 network. The database refuses the same address twice.

    `owner_type`/`owner_uuid` say who holds it (a VM NIC, a VIP, a router leg) for display and audits.
    """

    uuid = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name="UUID")
    l3_network = models.ForeignKey(L3Network, on_delete=models.PROTECT, related_name="used_ips",
                                   verbose_name="L3 network")
    ip_range = models.ForeignKey(IpRange, on_delete=models.PROTECT, related_name="used_ips",
                                 verbose_name="IP range")
    ip = models.GenericIPAddressField(protocol="IPv4", verbose_name="IP address")
    ip_int = models.BigIntegerField(verbose_name="IP (integer)")
    owner_type = models.CharField(max_length=32, blank=True, default="", verbose_name="owner type")
    owner_uuid = models.CharField(max_length=64, blank=True, default="", verbose_name="owner")
    created = models.DateTimeField(auto_now_add=True, verbose_name="allocated")

    class Meta:
        ordering = ["l3_network", "ip_int"]
        verbose_name = "used IP"
        constraints = [
            models.UniqueConstraint(fields=["l3_network", "ip_int"],
                                    name="%(app_label)s_%(class)s_unique_l3_network_ip"),
        ]

    def __str__(self):
        return self.ip

    @property
    def gateway(self):
        return self.ip_range.gateway

    @property
    def netmask(self):
        return self.ip_range.netmask
