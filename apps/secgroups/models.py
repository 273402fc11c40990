"""Security groups, their rules, where they apply (L3 networks, VM NICs) and how hosts realise them."""

import ipaddress
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Value, When
from django.db.models.functions import Coalesce

from apps.core.models import BaseModel, CleanTextMixin
from apps.projects.fields import project_field

from .choices import Direction, Ethertype, protocol_label


class SecurityGroup(BaseModel):
    """A set of allow rules applied to VM NICs. A new group allows all egress (two rules).

    The revision number rises on every change: the group itself, a rule, an L3 attachment or
    a NIC joining or leaving.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="security_groups", verbose_name="owner")
    project = project_field("security_groups")
    revision_number = models.PositiveBigIntegerField(default=0, editable=False, verbose_name="revision number")
    l3_networks = models.ManyToManyField("networks.L3Network", through="SecurityGroupL3NetworkRef",
                                         related_name="security_groups", blank=True, verbose_name="L3 networks")
    nics = models.ManyToManyField("compute.VmNic", through="SecurityGroupNicRef", related_name="security_groups",
                                  blank=True, verbose_name="VM NICs")

    class Meta:
        ordering = ["name", "created"]
        verbose_name = "security group"


ANY = -99999  # stands for NULL ("any") in the uniqueness of rules; never a stored port or protocol
NO_GROUP = uuid.UUID(int=0)


class SecurityGroupRule(CleanTextMixin, models.Model):
    """One allow rule, stored once in the neutral (Neutron) form and shown in ZStack's form too.

    protocol: None = any, else an IP protocol number. For ICMP, port_range_min/max hold the
    ICMP type/code (None = any). At most one remote: an IP prefix or a security group.
    """

    uuid = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name="UUID")
    security_group = models.ForeignKey(SecurityGroup, on_delete=models.CASCADE, related_name="rules",
                                       verbose_name="security group")
    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.INGRESS,
                                 verbose_name="direction")
    ethertype = models.CharField(max_length=4, choices=Ethertype.choices, default=Ethertype.IPV4,
                                 verbose_name="ethertype")
    protocol = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name="protocol",
                                                help_text="IP protocol number; empty means any.")
    port_range_min = models.IntegerField(null=True, blank=True, verbose_name="port range min",
                                         help_text="For ICMP: the ICMP type.")
    port_range_max = models.IntegerField(null=True, blank=True, verbose_name="port range max",
                                         help_text="For ICMP: the ICMP code.")
    remote_ip_prefix = models.CharField(max_length=43, blank=True, default="", verbose_name="remote IP prefix")
    remote_group = models.ForeignKey(SecurityGroup, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="remote_rules", verbose_name="remote security group")
    description = models.CharField(max_length=255, blank=True, default="", verbose_name="description")
    created = models.DateTimeField(auto_now_add=True, verbose_name="created")
    updated = models.DateTimeField(auto_now=True, verbose_name="updated")

    class Meta:
        ordering = ["security_group", "created", "uuid"]
        verbose_name = "security group rule"
        # Which remote-group sets a host needs, read from the index alone (a host may hold 100,000 rules).
        indexes = [models.Index(fields=["security_group", "remote_group", "ethertype"],
                                name="secgroups_rule_remote_sets")]
        # The database refuses a second copy of a rule even when two requests race past the
        # service's check (match_key(): NULL is "any" and a /0 prefix is the same as none).
        constraints = [
            models.UniqueConstraint(
                "security_group", "direction", "ethertype",
                Coalesce("protocol", Value(ANY)), Coalesce("port_range_min", Value(ANY)),
                Coalesce("port_range_max", Value(ANY)),
                Case(When(remote_ip_prefix__in=["0.0.0.0/0", "::/0"], then=Value("")), default=F("remote_ip_prefix")),
                Coalesce("remote_group", Value(NO_GROUP)),
                name="%(app_label)s_%(class)s_unique_rule", violation_error_code="unique",
                violation_error_message="The security group already holds this rule."),
        ]

    def __str__(self):
        ports = ""
        if self.port_range_min is not None:
            ports = f" {self.port_range_min}-{self.port_range_max if self.port_range_max is not None else 'any'}"
        remote = self.remote_ip_prefix or (f"group {self.remote_group}" if self.remote_group_id else "any")
        return f"{self.direction} {self.ethertype} {protocol_label(self.protocol)}{ports} {remote}"

    def clean(self):
        from .validation import validate_rule

        validate_rule(self)

    def match_key(self):
        """What makes two rules the same (a /0 prefix is the same as no prefix)."""
        prefix = self.remote_ip_prefix or ""
        if prefix and ipaddress.ip_network(prefix, strict=False).prefixlen == 0:
            prefix = ""
        return (self.direction, self.ethertype, self.protocol, self.port_range_min, self.port_range_max, prefix,
                self.remote_group_id)


class SecurityGroupL3NetworkRef(models.Model):
    """A security group attached to an L3 network: NICs on that L3 may join the group."""

    security_group = models.ForeignKey(SecurityGroup, on_delete=models.CASCADE, related_name="l3_refs",
                                       verbose_name="security group")
    l3_network = models.ForeignKey("networks.L3Network", on_delete=models.PROTECT, related_name="security_group_refs",
                                   verbose_name="L3 network")
    created = models.DateTimeField(auto_now_add=True, verbose_name="created")

    class Meta:
        ordering = ["created"]
        verbose_name = "security group attachment"
        constraints = [models.UniqueConstraint(fields=["security_group", "l3_network"],
                                               name="%(app_label)s_%(class)s_unique_security_group_l3_network")]

    def __str__(self):
        return f"{self.security_group} on {self.l3_network}"


class SecurityGroupNicRef(models.Model):
    """A VM NIC in a security group (a NIC may be in several)."""

    security_group = models.ForeignKey(SecurityGroup, on_delete=models.CASCADE, related_name="nic_refs",
                                       verbose_name="security group")
    vm_nic = models.ForeignKey("compute.VmNic", on_delete=models.CASCADE, related_name="security_group_refs",
                               verbose_name="VM NIC")
    created = models.DateTimeField(auto_now_add=True, verbose_name="created")

    class Meta:
        ordering = ["created"]
        verbose_name = "security group member"
        constraints = [models.UniqueConstraint(fields=["security_group", "vm_nic"],
                                               name="%(app_label)s_%(class)s_unique_security_group_vm_nic")]

    def __str__(self):
        return f"{self.vm_nic} in {self.security_group}"


class HostFirewall(models.Model):
    """How a host's security-group firewall stands: last apply, last failure, last drift repaired.

    Written by the sync and reconcile jobs only; the portal and the API show it.
    """

    host = models.OneToOneField("infra.Host", on_delete=models.CASCADE, related_name="firewall",
                                verbose_name="host")
    last_applied = models.DateTimeField(null=True, blank=True, verbose_name="last applied")
    last_result = models.JSONField(default=dict, blank=True, verbose_name="last result")
    last_error = models.TextField(blank=True, default="", verbose_name="last error")
    failures = models.PositiveIntegerField(default=0, verbose_name="failed applies in a row")
    last_reconciled = models.DateTimeField(null=True, blank=True, verbose_name="last reconciled")
    drift = models.CharField(max_length=255, blank=True, default="", verbose_name="last drift repaired")
    drift_by_nic = models.JSONField(default=dict, blank=True, verbose_name="drift repaired per NIC")

    class Meta:
        ordering = ["host"]
        verbose_name = "host firewall"

    def __str__(self):
        return f"firewall of {self.host}"
