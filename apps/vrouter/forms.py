from django import forms

from apps.compute.models import VmNic
from apps.vrouter.models import Vip


class VipForm(forms.ModelForm):
    """`ip` is optional: empty means the next free address of the L3 network."""

    ip = forms.GenericIPAddressField(protocol="IPv4", required=False, label="IP address",
                                     help_text="Empty: the next free address.")

    class Meta:
        model = Vip
        fields = ["name", "description", "l3_network", "state"]


class NicForm(forms.Form):
    vm_nic = forms.ModelChoiceField(queryset=VmNic.objects.none(), label="VM NIC")

    def __init__(self, *args, obj, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["vm_nic"].queryset = self.candidates(obj)
        self.fields["vm_nic"].label_from_instance = lambda nic: f"{nic.vm_instance.name}: {nic.ip} ({nic.l3_network})"

    def candidates(self, obj):
        return VmNic.objects.select_related("vm_instance", "l3_network").filter(vm_instance__type="UserVm")


class PortForwardingNicForm(NicForm):
    def candidates(self, obj):
        from apps.vrouter.services import attachable_nics

        return attachable_nics(obj)
