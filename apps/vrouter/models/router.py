"""The virtual router of an L3 network: where it runs and what it holds (booted by a job)."""

from django.db import models

from apps.core.models import BaseModel
from apps.infra.models import Host
from apps.networks.models import L3Network

from ..choices import RouterState


class VirtualRouter(BaseModel):
    """The router serving DHCP, DNS and NAT for one L3 network: a network namespace on a host.

    Booted by the first VM on the L3 whose provider is VirtualRouter; rebuilt by the periodic check
    when it dies. `address` is its private leg's address: the gateway, or on a flat network one from
    the range. A router of an L3 that takes SNAT, port forwarding or EIPs also has a public leg on its
    offering's public L3, holding `public_address` (taken from that L3's range) and its VIPs.
    """

    l3_network = models.OneToOneField(L3Network, on_delete=models.PROTECT, related_name="virtual_router",
                                      verbose_name="L3 network")
    host = models.ForeignKey(Host, null=True, blank=True, on_delete=models.PROTECT, related_name="virtual_routers",
                             verbose_name="host")
    state = models.CharField(max_length=16, choices=RouterState.choices, default=RouterState.STARTING,
                             verbose_name="state")
    address = models.GenericIPAddressField(protocol="IPv4", null=True, blank=True, verbose_name="address")
    netmask = models.CharField(max_length=15, blank=True, default="", verbose_name="netmask")
    namespace = models.CharField(max_length=32, blank=True, default="", verbose_name="namespace")
    leg = models.CharField(max_length=15, blank=True, default="", verbose_name="leg device")
    used_ip = models.OneToOneField("networks.UsedIp", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="virtual_router", verbose_name="used IP")
    public_l3 = models.ForeignKey(L3Network, null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="public_virtual_routers", verbose_name="public L3 network")
    public_address = models.GenericIPAddressField(protocol="IPv4", null=True, blank=True,
                                                  verbose_name="public address")
    public_netmask = models.CharField(max_length=15, blank=True, default="", verbose_name="public netmask")
    public_gateway = models.GenericIPAddressField(protocol="IPv4", null=True, blank=True,
                                                  verbose_name="public gateway")
    public_leg = models.CharField(max_length=15, blank=True, default="", verbose_name="public leg device")
    public_used_ip = models.OneToOneField("networks.UsedIp", null=True, blank=True, on_delete=models.SET_NULL,
                                          related_name="public_virtual_router", verbose_name="public used IP")
    last_repair = models.CharField(max_length=255, blank=True, default="", verbose_name="last repair")
    last_repaired = models.DateTimeField(null=True, blank=True, verbose_name="last repaired at")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["name"], name="%(app_label)s_%(class)s_unique_name")]
