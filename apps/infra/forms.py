"""The forms of infra's portal pages: the host form of the admin, the cluster wizard's two steps."""

from django import forms

from .models import Cluster, Host


class HostForm(forms.ModelForm):
    password = forms.CharField(
        widget=forms.PasswordInput(render_value=False), required=False, strip=False, label="SSH password",
        help_text="Root (or sudo-less admin) password; stored encrypted. Leave empty to keep the stored one.",
    )

    class Meta:
        model = Host
        fields = ["name", "description", "cluster", "management_ip", "ssh_port", "username", "password", "state"]

    def clean_password(self):
        password = self.cleaned_data.get("password")
        if self.instance._state.adding and not password:
            raise forms.ValidationError("Enter the SSH password.")
        return password


class ClusterForm(forms.ModelForm):
    class Meta:
        model = Cluster
        fields = ["name", "description", "zone", "hypervisor_type"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


class AttachForm(forms.Form):
    """The choices of steps 2 and 3, limited to the chosen zone."""

    primary_storages = forms.ModelMultipleChoiceField(queryset=None, required=False,
                                                      widget=forms.CheckboxSelectMultiple, label="primary storage")
    l2_networks = forms.ModelMultipleChoiceField(queryset=None, required=False, widget=forms.CheckboxSelectMultiple,
                                                 label="L2 networks")

    def __init__(self, *args, zone=None, **kwargs):
        from apps.networks.models import L2Network
        from apps.storage.models import PrimaryStorage

        super().__init__(*args, **kwargs)
        self.fields["primary_storages"].queryset = PrimaryStorage.objects.filter(zone=zone).order_by("name")
        self.fields["l2_networks"].queryset = L2Network.objects.filter(zone=zone).order_by("name")
        self.fields["primary_storages"].label_from_instance = lambda s: f"{s.name} ({s.get_type_display()}, {s.url})"
        self.fields["l2_networks"].label_from_instance = lambda n: (
            f"{n.name} ({n.get_type_display()} on {n.physical_interface}{f', VLAN {n.vlan}' if n.vlan else ''})")
