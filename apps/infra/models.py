"""Zones, clusters and the hypervisor hosts in them."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.core.models import BaseModel
from apps.core.validators import validate_ssh_username

from .choices import DomainType, EnabledState, HostStatus, HypervisorType


class Zone(BaseModel):
    """A data center, or one failure domain of one: everything else lives in a zone."""

    state = models.CharField(
        max_length=16, choices=EnabledState.choices, default=EnabledState.ENABLED, verbose_name="state"
    )

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["name"], name="%(app_label)s_%(class)s_unique_name")]


class Cluster(BaseModel):
    """A group of hosts of one hypervisor type that share primary storage and L2 networks."""

    zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="clusters", verbose_name="zone")
    hypervisor_type = models.CharField(
        max_length=16, choices=HypervisorType.choices, default=HypervisorType.KVM, verbose_name="hypervisor type"
    )
    state = models.CharField(
        max_length=16, choices=EnabledState.choices, default=EnabledState.ENABLED, verbose_name="state"
    )

    class Meta:
        ordering = ["zone__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["zone", "name"], name="%(app_label)s_%(class)s_unique_zone_name"),
        ]


class Host(BaseModel):
    """A hypervisor host in a cluster (a sandbox host is a network namespace on the management node).

    Facts (CPU, memory, domain type) are gathered by the add/reconnect job and stored here;
    nothing on this model talks to the host.
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="hosts", verbose_name="cluster")
    management_ip = models.GenericIPAddressField(protocol="IPv4", verbose_name="management IP")
    ssh_port = models.PositiveIntegerField(
        default=22, validators=[MinValueValidator(1), MaxValueValidator(65535)], verbose_name="SSH port"
    )
    username = models.CharField(max_length=64, default="root", verbose_name="SSH user name")
    # Fernet token (apps.core.crypto); never the password itself.
    encrypted_password = models.TextField(blank=True, default="", editable=False, verbose_name="SSH password")
    # The host's SSH key as "<type> <base64>", learnt at the first connection and checked at every other.
    host_key = models.TextField(blank=True, default="", editable=False, verbose_name="SSH host key")
    facts = models.JSONField(default=dict, blank=True, editable=False, verbose_name="facts")
    status_message = models.CharField(max_length=512, blank=True, default="", editable=False,
                                      verbose_name="status message")
    state = models.CharField(
        max_length=16, choices=EnabledState.choices, default=EnabledState.ENABLED, verbose_name="state"
    )
    status = models.CharField(
        max_length=16, choices=HostStatus.choices, default=HostStatus.CONNECTING, verbose_name="status"
    )
    cpu_num = models.PositiveIntegerField(default=0, verbose_name="CPUs")
    cpu_speed = models.PositiveIntegerField(default=0, verbose_name="CPU speed (MHz)")
    memory_size = models.BigIntegerField(default=0, verbose_name="memory (bytes)")
    domain_type = models.CharField(max_length=8, choices=DomainType.choices, blank=True, default="",
                                   verbose_name="guest domain type")
    last_heartbeat = models.DateTimeField(null=True, blank=True, verbose_name="last heartbeat")

    class Meta:
        ordering = ["cluster__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["management_ip"], name="%(app_label)s_%(class)s_unique_management_ip"),
            models.UniqueConstraint(fields=["cluster", "name"], name="%(app_label)s_%(class)s_unique_cluster_name"),
        ]

    def clean(self):
        validate_ssh_username(self.username, field="username")

    @property
    def queue_name(self):
        """The RQ queue its agent serves."""
        return f"host-{self.uuid}"

    @property
    def is_sandbox(self):
        return self.cluster.hypervisor_type == HypervisorType.SANDBOX

    @property
    def netns(self):
        """The network namespace that is a sandbox host ("" for a real host)."""
        from .sandbox import machine_netns

        return machine_netns(self.management_ip) if self.is_sandbox else ""

    @property
    def password(self):
        from apps.core.crypto import decrypt

        return decrypt(self.encrypted_password)

    @password.setter
    def password(self, value):
        from apps.core.crypto import encrypt

        self.encrypted_password = encrypt(value)
