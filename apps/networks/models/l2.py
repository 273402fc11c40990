"""L2 networks (a physical interface, untagged or with a VLAN) and their attachment to clusters."""

import hashlib

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.core.models import BaseModel
from apps.infra.models import Cluster, Zone

from ..choices import L2Type
from ..validators import IFNAME_MAX, validate_interface_name


def _short_ifname(name):
    """`name` if it fits a Linux interface name, else a stable 15-character digest of it."""
    if len(name) <= IFNAME_MAX:
        return name
    return name[:3] + hashlib.sha1(name.encode()).hexdigest()[: IFNAME_MAX - 3]


class L2Network(BaseModel):
    """A layer-2 broadcast domain of a zone: `physical_interface` on every host, untagged (L2NoVlanNetwork)
    or tagged with `vlan` (L2VlanNetwork). Hosts of attached clusters realise it as a bridge."""

    zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="l2_networks", verbose_name="zone")
    type = models.CharField(max_length=32, choices=L2Type.choices, default=L2Type.NO_VLAN, verbose_name="type")
    physical_interface = models.CharField(
        max_length=IFNAME_MAX, validators=[validate_interface_name], verbose_name="physical interface",
        help_text="The host interface the network rides on, such as eth0.",
    )
    vlan = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(4094)], verbose_name="VLAN",
        help_text="1-4094, for an L2VlanNetwork only.",
    )
    clusters = models.ManyToManyField(Cluster, through="L2NetworkClusterRef", related_name="l2_networks",
                                      blank=True, verbose_name="attached clusters")

    class Meta:
        ordering = ["name"]
        verbose_name = "L2 network"
        constraints = [
            models.UniqueConstraint(fields=["zone", "name"], name="%(app_label)s_%(class)s_unique_zone_name"),
            models.CheckConstraint(
                condition=(models.Q(type=L2Type.NO_VLAN, vlan__isnull=True)
                           | models.Q(type=L2Type.VLAN, vlan__gte=1, vlan__lte=4094)),
                name="%(app_label)s_%(class)s_vlan_matches_type",
            ),
        ]

    def clean(self):
        super().clean()
        if self.type == L2Type.VLAN:
            if self.vlan is None:
                raise ValidationError({"vlan": "An L2VlanNetwork needs a VLAN (1-4094)."})
            if self.physical_interface and len(f"{self.physical_interface}.{self.vlan}") > IFNAME_MAX:
                raise ValidationError({"physical_interface": (
                    f"The VLAN interface {self.physical_interface}.{self.vlan} would be longer than 15 characters; "
                    "use a shorter interface name.")})
        elif self.vlan is not None:
            raise ValidationError({"vlan": "An L2NoVlanNetwork has no VLAN."})

    @property
    def is_vlan(self):
        return self.type == L2Type.VLAN

    @property
    def vlan_interface(self):
        """The host's 802.1Q sub-interface (`eth0.100`), or None for an untagged network."""
        return f"{self.physical_interface}.{self.vlan}" if self.is_vlan else None

    @property
    def host_interface(self):
        """The interface plugged into the bridge: the VLAN sub-interface or the physical one."""
        return self.vlan_interface or self.physical_interface

    @property
    def bridge_name(self):
        """`br_eth0` or `br_eth0_100`; shortened to a stable digest when longer than 15 characters."""
        name = f"br_{self.physical_interface}" + (f"_{self.vlan}" if self.is_vlan else "")
        return _short_ifname(name)


class L2NetworkClusterRef(models.Model):
    """An L2 network attached to a cluster. The interface and VLAN are copied here so the database
    itself refuses two networks on the same interface (and VLAN) in one cluster."""

    l2_network = models.ForeignKey(L2Network, on_delete=models.PROTECT, related_name="cluster_refs",
                                   verbose_name="L2 network")
    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="l2_network_refs",
                                verbose_name="cluster")
    physical_interface = models.CharField(max_length=IFNAME_MAX, verbose_name="physical interface")
    vlan_key = models.PositiveIntegerField(default=0, verbose_name="VLAN (0 = untagged)")
    created = models.DateTimeField(auto_now_add=True, verbose_name="attached")

    class Meta:
        ordering = ["l2_network__name", "cluster__name"]
        verbose_name = "L2 network attachment"
        constraints = [
            models.UniqueConstraint(fields=["l2_network", "cluster"],
                                    name="%(app_label)s_%(class)s_unique_l2_network_cluster"),
            models.UniqueConstraint(fields=["cluster", "physical_interface", "vlan_key"],
                                    name="%(app_label)s_%(class)s_unique_cluster_interface_vlan"),
        ]

    def __str__(self):
        return f"{self.l2_network.name} on {self.cluster.name}"
