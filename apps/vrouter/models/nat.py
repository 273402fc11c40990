"""Port forwarding rules and EIPs: the NAT a virtual router applies for a VIP."""

import ipaddress

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from apps.compute.choices import VmState, VmType
from apps.compute.models import VmNic
from apps.core.models import BaseModel
from apps.networks.choices import ServiceType
from apps.projects.fields import project_field

from ..choices import EnabledState, Protocol
from ..exceptions import PortConflict, VipInUse
from .vip import Vip

PORT_VALIDATORS = [MinValueValidator(1, "Ports are 1-65535."), MaxValueValidator(65535, "Ports are 1-65535.")]
ATTACHABLE_VM_STATES = (VmState.RUNNING, VmState.STOPPED)


def validate_cidr(value):
    try:
        network = ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        raise ValidationError("Enter an IPv4 network in CIDR notation, such as 198.51.100.0/24.") from None
    if str(network) != value and str(network.network_address) != value.split("/")[0]:
        raise ValidationError(f"{value} is not a network address; did you mean {network}?")


def check_nic_for_nat(nic, vip, service_type, field="vm_nic"):
    """The rules shared by port forwarding and EIPs for the guest NIC behind a VIP."""
    vm = nic.vm_instance
    if vm.type != VmType.USER:
        raise ValidationError({field: f"VM {vm} is not a user VM."})
    if vm.state not in ATTACHABLE_VM_STATES:
        raise ValidationError({field: f"VM {vm} is {vm.state}; it must be Running or Stopped."})
    if vip.project_id and vm.project_id not in (None, vip.project_id):  # no project: the admin's own VM
        raise ValidationError({field: f"VM {vm} is not in the project of VIP {vip}."})
    if vm.zone_id != vip.l3_network.l2_network.zone_id:
        raise ValidationError({field: f"VM {vm} is not in the zone of VIP {vip}."})
    if nic.l3_network_id == vip.l3_network_id:
        raise ValidationError({field: f"The NIC is on L3 network {nic.l3_network}, the VIP's own network."})
    if not nic.l3_network.has_service(service_type):
        raise ValidationError({field: f"L3 network {nic.l3_network} does not offer the {service_type} service."})
    from ..routers import public_l3_of

    public = public_l3_of(nic.l3_network)
    if public is not None and public.pk != vip.l3_network_id:
        raise ValidationError({field: f"The router of L3 network {nic.l3_network} has its public leg on L3 network "
                                      f"{public}, but VIP {vip} is on {vip.l3_network}."})


class PortForwardingRule(BaseModel):
    """Forward VIP ports (vip_port_start..end) of one protocol to the same number of guest ports
    of a VM NIC, for sources in `allowed_cidr` (empty: anyone). A rule may exist attached to no NIC."""

    project = project_field("port_forwarding_rules")
    vip = models.ForeignKey(Vip, on_delete=models.CASCADE, related_name="port_forwarding_rules", verbose_name="VIP")
    protocol = models.CharField(max_length=8, choices=Protocol.choices, verbose_name="protocol")
    vip_port_start = models.PositiveIntegerField(validators=PORT_VALIDATORS, verbose_name="VIP start port")
    vip_port_end = models.PositiveIntegerField(validators=PORT_VALIDATORS, verbose_name="VIP end port")
    guest_port_start = models.PositiveIntegerField(validators=PORT_VALIDATORS, null=True, blank=True,
                                                   verbose_name="guest start port",
                                                   help_text="Defaults to the VIP start port.")
    guest_port_end = models.PositiveIntegerField(validators=PORT_VALIDATORS, null=True, blank=True,
                                                 verbose_name="guest end port",
                                                 help_text="Defaults to the VIP end port.")
    allowed_cidr = models.CharField(max_length=18, blank=True, default="", validators=[validate_cidr],
                                    verbose_name="allowed CIDR", help_text="Empty: from anywhere.")
    state = models.CharField(max_length=16, choices=EnabledState.choices, default=EnabledState.ENABLED,
                             verbose_name="state")
    vm_nic = models.ForeignKey(VmNic, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="port_forwarding_rules", verbose_name="VM NIC")

    class Meta:
        ordering = ["name"]
        verbose_name = "port forwarding rule"
        constraints = [
            models.CheckConstraint(condition=Q(vip_port_start__lte=models.F("vip_port_end")),
                                   name="%(app_label)s_%(class)s_vip_ports_ordered"),
        ]

    def fill_defaults(self):
        """Complete every partial form of the ranges before any check: a missing end is the start (VIP) or
        keeps the VIP range's length (guest); a guest range given by its end alone ends there."""
        if self.vip_port_end is None and self.vip_port_start is not None:
            self.vip_port_end = self.vip_port_start
        if self.vip_port_start is None or self.vip_port_end is None:
            return
        length = self.vip_port_end - self.vip_port_start
        if self.guest_port_start is None and self.guest_port_end is None:
            self.guest_port_start, self.guest_port_end = self.vip_port_start, self.vip_port_end
        elif self.guest_port_end is None:
            self.guest_port_end = self.guest_port_start + length
        elif self.guest_port_start is None:
            self.guest_port_start = self.guest_port_end - length

    def clean(self):
        self.fill_defaults()
        super().clean()
        ports = (self.vip_port_start, self.vip_port_end, self.guest_port_start, self.guest_port_end)
        if any(p is None or not 1 <= p <= 65535 for p in ports):
            return  # the field validators report it
        if self.vip_port_start > self.vip_port_end:
            raise ValidationError({"vip_port_end": "The VIP end port is lower than the VIP start port."})
        if self.guest_port_start > self.guest_port_end:
            raise ValidationError({"guest_port_end": "The guest end port is lower than the guest start port."})
        if self.vip_port_end - self.vip_port_start != self.guest_port_end - self.guest_port_start:
            raise ValidationError({"guest_port_end": (
                f"The VIP port range {self.vip_port_start}-{self.vip_port_end} and the guest port range "
                f"{self.guest_port_start}-{self.guest_port_end} must have the same length.")})
        if not self.vip_id or not self.protocol:
            return
        self.check_vip()
        if self.vm_nic_id:
            self.check_nic(self.vm_nic)

    def check_vip(self):
        vip = self.vip
        if hasattr(vip, "eip"):
            raise VipInUse(f"VIP {vip} is used by EIP {vip.eip}; an EIP needs a VIP of its own.", field="vip")
        clash = (PortForwardingRule.objects.filter(vip=vip, protocol=self.protocol, vip_port_start__lte=self.vip_port_end,
                                                   vip_port_end__gte=self.vip_port_start)
                 .exclude(pk=self.pk).first())
        if clash is not None:
            raise PortConflict(
                f"VIP ports {self.vip_port_start}-{self.vip_port_end}/{self.protocol} overlap rule {clash} "
                f"({clash.vip_port_start}-{clash.vip_port_end}) on VIP {vip}.", field="vip_port_start")

    def check_nic(self, nic):
        """May this rule forward to `nic`? Raises the reason it may not."""
        check_nic_for_nat(nic, self.vip, ServiceType.PORT_FORWARDING)
        if self.allowed_cidr and Eip.objects.filter(vm_nic=nic).exists():
            raise ValidationError({"allowed_cidr": f"VM {nic.vm_instance}'s NIC has an EIP: a rule with an allowed "
                                                   "CIDR cannot forward to it (the EIP lets everyone in)."})
        others = PortForwardingRule.objects.exclude(pk=self.pk).select_related("vip", "vm_nic__l3_network")
        clash = others.filter(vm_nic=nic, protocol=self.protocol, guest_port_start__lte=self.guest_port_end,
                              guest_port_end__gte=self.guest_port_start).first()
        if clash is not None:
            raise PortConflict(
                f"Guest ports {self.guest_port_start}-{self.guest_port_end}/{self.protocol} overlap rule {clash} "
                f"({clash.guest_port_start}-{clash.guest_port_end}) on the same NIC.", field="vm_nic")
        other_vip = others.filter(vm_nic__vm_instance_id=nic.vm_instance_id).exclude(vip_id=self.vip_id).first()
        if other_vip is not None:
            raise VipInUse(f"VM {nic.vm_instance} already holds rule {other_vip} of VIP {other_vip.vip}; "
                           "a VM takes port forwarding rules from one VIP only.", field="vm_nic")
        other_l3 = (others.filter(vip_id=self.vip_id, vm_nic__isnull=False)
                    .exclude(vm_nic__l3_network_id=nic.l3_network_id).first())
        if other_l3 is not None:
            raise VipInUse(f"VIP {self.vip} already forwards to L3 network {other_l3.vm_nic.l3_network} "
                           f"(rule {other_l3}); its rules serve one guest network.", field="vm_nic")


class Eip(BaseModel):
    """An elastic IP: the whole VIP maps one-to-one to a VM NIC's address (DNAT in, SNAT out)."""

    project = project_field("eips")
    vip = models.OneToOneField(Vip, on_delete=models.CASCADE, related_name="eip", verbose_name="VIP")
    vm_nic = models.OneToOneField(VmNic, null=True, blank=True, on_delete=models.SET_NULL, related_name="eip",
                                  verbose_name="VM NIC")
    state = models.CharField(max_length=16, choices=EnabledState.choices, default=EnabledState.ENABLED,
                             verbose_name="state")

    class Meta:
        ordering = ["name"]
        verbose_name = "EIP"

    @property
    def guest_ip(self):
        return self.vm_nic.ip if self.vm_nic_id else None

    def clean(self):
        super().clean()
        if not self.vip_id:
            return
        vip = self.vip
        other = Eip.objects.filter(vip=vip).exclude(pk=self.pk).first()
        if other is not None:
            raise VipInUse(f"VIP {vip} is already used by EIP {other}.", field="vip")
        if vip.snat or vip.port_forwarding_rules.exists():
            uses = ", ".join(u for u in vip.uses() if u != "Eip")
            raise VipInUse(f"VIP {vip} is used for {uses}; an EIP needs a VIP of its own.", field="vip")
        if self.vm_nic_id:
            self.check_nic(self.vm_nic)

    def check_nic(self, nic):
        check_nic_for_nat(nic, self.vip, ServiceType.EIP)
        vip_int = int(ipaddress.IPv4Address(self.vip.ip))
        if nic.l3_network.ip_ranges.filter(start_int__lte=vip_int, end_int__gte=vip_int).exists():
            raise ValidationError({"vm_nic": f"VIP {self.vip} lies in the guest range of L3 network {nic.l3_network}."})
        other = Eip.objects.filter(vm_nic=nic).exclude(pk=self.pk).first()
        if other is not None:
            raise VipInUse(f"The NIC already has EIP {other}; a NIC takes one EIP.", field="vm_nic")
        limited = PortForwardingRule.objects.filter(vm_nic=nic).exclude(allowed_cidr="").first()
        if limited is not None:
            raise ValidationError({"vm_nic": f"Port forwarding rule {limited} limits the NIC to {limited.allowed_cidr}: "
                                             "an EIP would let everyone in; detach the rule first."})
