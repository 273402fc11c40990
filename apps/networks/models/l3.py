"""L3 networks: a subnet on an L2 network, its DNS and the network services offered on it."""

from django.core.exceptions import ValidationError
from django.db import models

from apps.core.models import BaseModel
from apps.projects.fields import project_field, shared_field

from ..choices import PROVIDER_SERVICES, L3Type, Provider, ServiceType
from ..validators import validate_dns_domain
from .l2 import L2Network


class L3Network(BaseModel):
    """An IP network on an L2 network: IP ranges, DNS servers and domain, network services.

    A System L3 (such as a public or management network) carries routers and VIPs, never user VMs.
    """

    project = project_field("l3_networks")
    shared = shared_field()
    l2_network = models.ForeignKey(L2Network, on_delete=models.PROTECT, related_name="l3_networks",
                                   verbose_name="L2 network")
    type = models.CharField(max_length=32, choices=L3Type.choices, default=L3Type.BASIC, verbose_name="type")
    system = models.BooleanField(default=False, verbose_name="system",
                                 help_text="For routers and VIPs (public/management networks); no user VMs.")
    dns_domain = models.CharField(max_length=253, blank=True, default="", validators=[validate_dns_domain],
                                  verbose_name="DNS domain")

    class Meta:
        ordering = ["name"]
        verbose_name = "L3 network"
        constraints = [
            models.UniqueConstraint(fields=["l2_network", "name"],
                                    name="%(app_label)s_%(class)s_unique_l2_network_name"),
        ]

    @property
    def zone(self):
        return self.l2_network.zone

    @property
    def zone_id(self):
        return self.l2_network.zone_id

    def service_types(self):
        """The service types offered (uses prefetched `network_services` when present)."""
        return {s.service_type for s in self.network_services.all()}

    def has_service(self, service_type):
        """`l3.has_service("SecurityGroup")`: is this service type offered on the network?"""
        return str(service_type) in self.service_types()

    def provider_of(self, service_type):
        for s in self.network_services.all():
            if s.service_type == service_type:
                return s.provider
        return None

    def dns_addresses(self):
        """DNS server addresses in order."""
        return [d.address for d in self.dns_servers.all()]


class L3DnsServer(models.Model):
    """One DNS server handed to guests of an L3 network; `position` keeps the user's order."""

    l3_network = models.ForeignKey(L3Network, on_delete=models.CASCADE, related_name="dns_servers",
                                   verbose_name="L3 network")
    address = models.GenericIPAddressField(unpack_ipv4=True, verbose_name="address")
    position = models.PositiveIntegerField(default=0, verbose_name="position")

    class Meta:
        ordering = ["l3_network", "position", "pk"]
        verbose_name = "DNS server"
        constraints = [
            models.UniqueConstraint(fields=["l3_network", "address"],
                                    name="%(app_label)s_%(class)s_unique_l3_network_address",
                                    violation_error_message="This DNS server is already on the L3 network."),
        ]

    def __str__(self):
        return self.address

    def validate_constraints(self, exclude=None):
        # The message of the named constraint, keyed by the field the user typed.
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as exc:
            raise ValidationError({"address": ValidationError(
                f"DNS server {self.address} is already on L3 network {self.l3_network}.", code="unique")}) from exc


class NetworkService(models.Model):
    """A network service type offered on an L3 network by a provider (DHCP by VirtualRouter...)."""

    l3_network = models.ForeignKey(L3Network, on_delete=models.CASCADE, related_name="network_services",
                                   verbose_name="L3 network")
    provider = models.CharField(max_length=32, choices=Provider.choices, verbose_name="provider")
    service_type = models.CharField(max_length=32, choices=ServiceType.choices, verbose_name="service type")

    class Meta:
        ordering = ["l3_network", "provider", "service_type"]
        verbose_name = "network service"
        constraints = [
            models.UniqueConstraint(fields=["l3_network", "service_type"],
                                    name="%(app_label)s_%(class)s_unique_l3_network_service_type"),
        ]

    def __str__(self):
        return f"{self.service_type} ({self.provider})"

    def clean(self):
        super().clean()
        offered = PROVIDER_SERVICES.get(self.provider)
        if offered is not None and self.service_type and self.service_type not in offered:
            raise ValidationError({"service_type": (
                f"Provider {self.provider} does not offer {self.service_type}; "
                f"it offers {', '.join(offered)}.")})

    def validate_constraints(self, exclude=None):
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as exc:
            raise ValidationError({"service_type": ValidationError(
                f"{self.service_type} is already offered on L3 network {self.l3_network}.", code="unique")}) from exc
