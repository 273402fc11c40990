"""Forms of the security-group pages: a rule with its protocol by name, and the group's attach/member actions."""

from django import forms

from apps.compute.models import VmNic
from apps.networks.models import L3Network

from .choices import PROTOCOL_NUMBERS
from .models import SecurityGroupRule

# What ZStack's and Horizon's forms offer; other protocols remain for the API (a name or a number).
PROTOCOL_CHOICES = [("", "ALL (any protocol)"), ("tcp", "TCP"), ("udp", "UDP"), ("icmp", "ICMP")]


def _protocol_number(name):
    return PROTOCOL_NUMBERS[name]


class RuleForm(forms.ModelForm):
    protocol = forms.TypedChoiceField(choices=PROTOCOL_CHOICES, coerce=_protocol_number, empty_value=None,
                                      required=False, label="protocol")
    port_range_min = forms.IntegerField(required=False, label="port from",
                                        help_text="TCP/UDP: first port (e.g. 22). ICMP: the type; empty = any.")
    port_range_max = forms.IntegerField(required=False, label="port to",
                                        help_text="TCP/UDP: last port (empty: the same as the first). ICMP: the code.")
    remote_ip_prefix = forms.CharField(required=False, label="allowed CIDR",
                                       help_text="Empty: any address (0.0.0.0/0).")

    class Meta:
        model = SecurityGroupRule
        fields = ["security_group", "direction", "ethertype", "protocol", "port_range_min", "port_range_max",
                  "remote_ip_prefix", "remote_group", "description"]


def _nic_label(nic):
    return f"{nic.vm_instance.name}: {nic.ip or nic.mac} on {nic.l3_network.name}"


class AttachL3Form(forms.Form):
    l3_network = forms.ModelChoiceField(queryset=L3Network.objects.none(), label="L3 network",
                                        help_text="L3 networks offering the SecurityGroup service.")

    def __init__(self, *args, obj, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["l3_network"].queryset = L3Network.objects.filter(
            network_services__service_type="SecurityGroup").exclude(security_group_refs__security_group=obj).distinct()


class DetachL3Form(forms.Form):
    l3_network = forms.ModelChoiceField(queryset=L3Network.objects.none(), label="L3 network")

    def __init__(self, *args, obj, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["l3_network"].queryset = L3Network.objects.filter(security_group_refs__security_group=obj)


class AddNicsForm(forms.Form):
    nics = forms.ModelMultipleChoiceField(queryset=VmNic.objects.none(), label="VM NICs",
                                          widget=forms.CheckboxSelectMultiple,
                                          help_text="NICs on the L3 networks this group is attached to.")

    def __init__(self, *args, obj, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["nics"]
        field.queryset = VmNic.objects.select_related("vm_instance", "l3_network").filter(
            l3_network__security_group_refs__security_group=obj, vm_instance__type="UserVm").exclude(
            security_group_refs__security_group=obj).order_by("vm_instance__name", "device_index")
        field.label_from_instance = _nic_label


class RemoveNicsForm(forms.Form):
    nics = forms.ModelMultipleChoiceField(queryset=VmNic.objects.none(), label="VM NICs",
                                          widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, obj, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["nics"]
        field.queryset = VmNic.objects.select_related("vm_instance", "l3_network").filter(
            security_group_refs__security_group=obj).order_by("vm_instance__name", "device_index")
        field.label_from_instance = _nic_label
