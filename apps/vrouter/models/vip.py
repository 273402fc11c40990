"""Virtual IPs: public addresses that port forwarding, EIPs and SNAT are built on."""

from django.db import models

from apps.core.models import BaseModel
from apps.networks.models import L3Network, UsedIp
from apps.projects.fields import project_field

from ..choices import EnabledState, VipUse


class Vip(BaseModel):
    """An address of an L3 network (usually a public, System one) held for NAT services.

    Its uses are derived: port forwarding rules, an EIP, or SNAT (the router's own public
    address). An EIP needs a VIP of its own; port forwarding may share a VIP with SNAT and with
    other rules as long as their ports do not overlap. Deleting a VIP deletes its port
    forwarding rules and its EIP, and returns the address to IPAM.
    """

    project = project_field("vips")
    l3_network = models.ForeignKey(L3Network, on_delete=models.PROTECT, related_name="vips",
                                   verbose_name="L3 network")
    used_ip = models.OneToOneField(UsedIp, null=True, blank=True, on_delete=models.PROTECT, related_name="vip",
                                   editable=False, verbose_name="used IP")
    ip = models.GenericIPAddressField(protocol="IPv4", verbose_name="IP address")
    netmask = models.CharField(max_length=15, blank=True, default="", editable=False, verbose_name="netmask")
    gateway = models.GenericIPAddressField(protocol="IPv4", null=True, blank=True, editable=False,
                                           verbose_name="gateway")
    snat = models.BooleanField(default=False, verbose_name="used for SNAT",
                               help_text="The router's own public address, used for source NAT.")
    state = models.CharField(max_length=16, choices=EnabledState.choices, default=EnabledState.ENABLED,
                             verbose_name="state")

    class Meta:
        ordering = ["name"]
        verbose_name = "VIP"
        constraints = [
            models.UniqueConstraint(fields=["l3_network", "ip"], name="%(app_label)s_%(class)s_unique_l3_network_ip"),
        ]

    def uses(self):
        """The services on this VIP, e.g. ["PortForwarding", "SNAT"]."""
        uses = []
        if self.port_forwarding_rules.exists():
            uses.append(VipUse.PORT_FORWARDING.value)
        if hasattr(self, "eip"):
            uses.append(VipUse.EIP.value)
        if self.snat:
            uses.append(VipUse.SNAT.value)
        return uses
