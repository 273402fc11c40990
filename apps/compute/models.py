"""Instance offerings, VMs and their NICs (the VM lifecycle lives in the services and jobs)."""

import secrets
import uuid

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from apps.core.fields import SizeField
from apps.core.models import BaseModel
from apps.images.models import Image
from apps.infra.models import Cluster, Host, Zone
from apps.networks.models import L3Network, UsedIp
from apps.networks.validators import validate_dns_label
from apps.projects.fields import project_field

from .choices import AllocatorStrategy, GuestKind, VmState, VmType

MIN_MEMORY = 16 * 1024**2


class InstanceOffering(BaseModel):
    """The size of a VM: CPUs, CPU speed and memory, and how to pick its host."""

    cpu_num = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(1024)], verbose_name="CPU number"
    )
    cpu_speed = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(1_000_000)], verbose_name="CPU speed (MHz)",
        help_text="Relative CPU share, as in ZStack (e.g. 512).",
    )
    memory_size = SizeField(
        validators=[MinValueValidator(MIN_MEMORY, message="Memory must be at least 16M.")],
        verbose_name="memory",
    )
    allocator_strategy = models.CharField(
        max_length=64, choices=AllocatorStrategy.choices, default=AllocatorStrategy.DEFAULT,
        verbose_name="allocator strategy",
    )

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["name"], name="%(app_label)s_%(class)s_unique_name")]


class VmInstance(BaseModel):
    """A virtual machine: a user VM, or an appliance VM such as a virtual router.

    Creating one records it and its NICs (addresses and MACs allocated) in state Created; booting
    it is the lifecycle's work. `cluster` and `host` are set when it is placed on a host.
    """

    project = project_field("vm_instances")
    type = models.CharField(max_length=16, choices=VmType.choices, default=VmType.USER, verbose_name="type")
    hostname = models.CharField(max_length=63, blank=True, default="", validators=[validate_dns_label],
                                verbose_name="host name", help_text="A DNS label such as inner.")
    instance_offering = models.ForeignKey(InstanceOffering, null=True, blank=True, on_delete=models.PROTECT,
                                          related_name="vm_instances", verbose_name="instance offering")
    image = models.ForeignKey(Image, null=True, blank=True, on_delete=models.PROTECT, related_name="vm_instances",
                              verbose_name="image")
    zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="vm_instances", verbose_name="zone")
    cluster = models.ForeignKey(Cluster, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="vm_instances", verbose_name="cluster")
    host = models.ForeignKey(Host, null=True, blank=True, on_delete=models.PROTECT, related_name="vm_instances",
                             verbose_name="host")
    last_host = models.ForeignKey(Host, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                  verbose_name="last host")
    state = models.CharField(max_length=16, choices=VmState.choices, default=VmState.CREATED, db_index=True,
                             verbose_name="state")
    guest_kind = models.CharField(max_length=16, choices=GuestKind.choices, default=GuestKind.LIBVIRT,
                                  verbose_name="guest kind",
                                  help_text="Namespace guests run on sandbox hosts only, and start in a blink.")

    class Meta:
        ordering = ["name"]
        verbose_name = "VM instance"

    def clean(self):
        super().clean()
        if self.type == VmType.USER:
            if not self.instance_offering_id:
                raise ValidationError({"instance_offering": "A user VM needs an instance offering."})
            if not self.image_id:
                raise ValidationError({"image": "A user VM needs an image."})
            if self.image.system:
                raise ValidationError({"image": f"Image {self.image} is a System image, for appliances only."})
        if self.cluster_id and self.cluster.zone_id != self.zone_id:
            raise ValidationError({"cluster": f"Cluster {self.cluster} is not in zone {self.zone}."})
        if self.host_id and self.cluster_id and self.host.cluster_id != self.cluster_id:
            raise ValidationError({"host": f"Host {self.host} is not in cluster {self.cluster}."})

    @property
    def is_user_vm(self):
        return self.type == VmType.USER


MAC_PREFIX = "fa"  # first octet 0xfa: locally administered, unicast


def generate_mac():
    """A random locally administered unicast MAC address (fa:xx:xx:xx:xx:xx)."""
    return ":".join([MAC_PREFIX, *(f"{b:02x}" for b in secrets.token_bytes(5))])


def _internal_name(nic_uuid):
    return f"vnic{uuid.UUID(str(nic_uuid)).hex[:10]}"


class VmNic(models.Model):
    """A VM's network interface on an L3 network, with its address (a UsedIp from IPAM) and MAC.

    `internal_name` ("vnic" + 10 hex digits of the uuid, 14 characters, stable for the NIC's life)
    names its devices on hosts (tap, veth), which Linux limits to 15 characters.
    """

    uuid = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name="UUID")
    vm_instance = models.ForeignKey(VmInstance, on_delete=models.CASCADE, related_name="nics",
                                    verbose_name="VM instance")
    l3_network = models.ForeignKey(L3Network, on_delete=models.PROTECT, related_name="vm_nics",
                                   verbose_name="L3 network")
    used_ip = models.OneToOneField(UsedIp, null=True, blank=True, on_delete=models.PROTECT, related_name="vm_nic",
                                   verbose_name="used IP")
    ip = models.GenericIPAddressField(protocol="IPv4", null=True, blank=True, verbose_name="IP address")
    netmask = models.CharField(max_length=15, blank=True, default="", verbose_name="netmask")
    gateway = models.GenericIPAddressField(protocol="IPv4", null=True, blank=True, verbose_name="gateway")
    mac = models.CharField(max_length=17, unique=True, default=generate_mac, verbose_name="MAC address",
                           validators=[RegexValidator(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$",
                                                      "Enter a MAC address such as fa:16:3e:00:00:01.")])
    device_index = models.PositiveSmallIntegerField(default=0, verbose_name="device index")
    internal_name = models.CharField(max_length=15, unique=True, editable=False, verbose_name="internal name")
    created = models.DateTimeField(auto_now_add=True, verbose_name="created")
    updated = models.DateTimeField(auto_now=True, verbose_name="updated")

    class Meta:
        ordering = ["vm_instance", "device_index"]
        verbose_name = "VM NIC"
        constraints = [
            models.UniqueConstraint(fields=["vm_instance", "device_index"],
                                    name="%(app_label)s_%(class)s_unique_vm_instance_device_index"),
            models.UniqueConstraint(fields=["vm_instance", "l3_network"],
                                    name="%(app_label)s_%(class)s_unique_vm_instance_l3_network"),
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.internal_name and self.uuid:
            self.internal_name = _internal_name(self.uuid)

    def __str__(self):
        return f"{self.vm_instance.name} {self.ip or self.mac}" if self.vm_instance_id else self.internal_name
