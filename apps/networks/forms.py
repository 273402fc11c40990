"""Forms of the network pages: the extra input of admin actions and the L3 wizard's steps."""

from django import forms

from apps.infra.models import Cluster

from .choices import PROVIDER_SERVICES, L3Type
from .models import L2Network


class ClusterForm(forms.Form):
    cluster = forms.ModelChoiceField(queryset=Cluster.objects.none())

    def __init__(self, *args, obj, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cluster"].queryset = Cluster.objects.filter(zone=obj.zone_id)


class AttachClusterForm(ClusterForm):
    def __init__(self, *args, obj, **kwargs):
        super().__init__(*args, obj=obj, **kwargs)
        self.fields["cluster"].queryset = self.fields["cluster"].queryset.exclude(l2_network_refs__l2_network=obj)


class DetachClusterForm(ClusterForm):
    def __init__(self, *args, obj, **kwargs):
        super().__init__(*args, obj=obj, **kwargs)
        self.fields["cluster"].queryset = obj.clusters.all()


# --- L3 wizard ---------------------------------------------------------------------------------------


class L3CreateForm(forms.Form):
    name = forms.CharField(max_length=255)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    l2_network = forms.ModelChoiceField(queryset=L2Network.objects.select_related("zone"), label="L2 network")
    type = forms.ChoiceField(choices=L3Type.choices, initial=L3Type.BASIC)
    system = forms.BooleanField(required=False, help_text="For routers and VIPs; no user VMs.")
    shared = forms.BooleanField(required=False, help_text="Every project may use it.")
    dns_domain = forms.CharField(required=False, label="DNS domain")


class IpRangeForm(forms.Form):
    METHODS = [("range", "By range"), ("cidr", "By CIDR")]
    name = forms.CharField(max_length=255)
    method = forms.ChoiceField(choices=METHODS, initial="range", widget=forms.RadioSelect)
    start_ip = forms.CharField(required=False, label="start IP")
    end_ip = forms.CharField(required=False, label="end IP")
    netmask = forms.CharField(required=False)
    gateway = forms.CharField(required=False)
    network_cidr = forms.CharField(required=False, label="network CIDR", help_text="e.g. 10.0.0.0/24")

    def service_kwargs(self):
        data = self.cleaned_data
        if data["method"] == "cidr":
            return {"name": data["name"], "network_cidr": data["network_cidr"]}
        return {k: data[k] for k in ("name", "start_ip", "end_ip", "netmask", "gateway")}


class DnsForm(forms.Form):
    dns = forms.GenericIPAddressField(label="DNS server")


class ServicesForm(forms.Form):
    """One checkbox per (provider, service type)."""

    def __init__(self, *args, l3=None, **kwargs):
        super().__init__(*args, **kwargs)
        offered = l3.service_types() if l3 is not None else set()
        for provider, types in PROVIDER_SERVICES.items():
            choices = [(t.value, t.label) for t in types if t.value not in offered]
            if choices:
                self.fields[provider.value] = forms.MultipleChoiceField(
                    choices=choices, required=False, widget=forms.CheckboxSelectMultiple, label=provider.label)

    def services(self):
        return {p: list(types) for p, types in self.cleaned_data.items() if types}


