from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from apps.core.admin import ServiceAdmin

from . import services
from apps.core.admin_actions import ObjectActionAdmin
from .forms import AttachClusterForm, DetachClusterForm
from .models import IpRange, L2Network, L2NetworkClusterRef, L3DnsServer, L3Network, NetworkService, UsedIp


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ClusterRefInline(ReadOnlyInline):
    model = L2NetworkClusterRef
    fields = readonly_fields = ["cluster", "created"]
    verbose_name_plural = "attached clusters"


@admin.register(L2Network)
class L2NetworkAdmin(ObjectActionAdmin):
    list_display = ["name", "zone", "type", "physical_interface", "vlan", "bridge_name", "attached", "created"]
    list_filter = ["zone", "type"]
    search_fields = ["name", "description", "physical_interface"]
    list_select_related = ["zone"]
    fields = ["name", "description", "zone", "type", "physical_interface", "vlan", "bridge", "cluster_actions"]
    readonly_fields = ["bridge", "cluster_actions"]
    inlines = [ClusterRefInline]
    create_service = services.create_l2_network
    update_service = services.update_l2_network
    delete_service = services.delete_l2_network
    object_actions = {
        "attach": ("Attach to a cluster", AttachClusterForm, services.attach_l2_network_to_cluster),
        "detach": ("Detach from a cluster", DetachClusterForm, services.detach_l2_network_from_cluster),
    }

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("clusters")

    def get_readonly_fields(self, request, obj=None):
        frozen = ["zone", "type", "physical_interface", "vlan"] if obj else []
        return [*frozen, *self.readonly_fields]

    @admin.display(description="attached clusters")
    def attached(self, obj):
        return ", ".join(c.name for c in obj.clusters.all()) or "-"

    @admin.display(description="bridge on hosts")
    def bridge(self, obj):
        if not obj.physical_interface:
            return "-"
        return f"{obj.bridge_name} on {obj.host_interface}"

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return fields if obj is not None else [f for f in fields if f != "cluster_actions"]

    @admin.display(description="clusters")
    def cluster_actions(self, obj):
        if obj._state.adding:
            return "-"
        return self.action_links(obj, [("attach", "Attach to a cluster"), ("detach", "Detach from a cluster")])


class IpRangeInline(ReadOnlyInline):
    model = IpRange
    fields = readonly_fields = ["name", "start_ip", "end_ip", "netmask", "gateway"]
    show_change_link = True


class DnsInline(ReadOnlyInline):
    model = L3DnsServer
    fields = readonly_fields = ["address", "position"]


class ServiceInline(ReadOnlyInline):
    model = NetworkService
    fields = readonly_fields = ["provider", "service_type"]


@admin.register(L3Network)
class L3NetworkAdmin(ServiceAdmin):
    list_display = ["name", "l2_network", "zone", "system", "dns_domain", "services", "ranges", "wizard"]
    list_filter = ["system", "l2_network__zone", "network_services__service_type"]
    search_fields = ["name", "description", "dns_domain"]
    list_select_related = ["l2_network__zone"]
    fields = ["name", "description", "l2_network", "type", "system", "shared", "dns_domain"]
    inlines = [IpRangeInline, DnsInline, ServiceInline]
    create_service = services.create_l3_network
    update_service = services.update_l3_network
    delete_service = services.delete_l3_network

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("network_services", "ip_ranges")

    change_form_template = "networks/l3network_change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        from .topology import l3_topology

        l3 = self.get_object(request, object_id)
        if l3 is not None:
            extra_context = {**(extra_context or {}), "topology": l3_topology(l3)}
        return super().change_view(request, object_id, form_url, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        # One way to make an L3: "Add" is the wizard (network, ranges, DNS, services on one page).
        if request.method == "GET" and "_popup" not in request.GET:
            return HttpResponseRedirect(reverse("networks:l3-wizard"))
        return super().add_view(request, form_url, extra_context)

    def get_readonly_fields(self, request, obj=None):
        return ["l2_network", "type"] if obj else []

    @admin.display(description="zone", ordering="l2_network__zone__name")
    def zone(self, obj):
        return obj.l2_network.zone

    @admin.display(description="network services")
    def services(self, obj):
        return ", ".join(f"{s.service_type} ({s.provider})" for s in obj.network_services.all()) or "-"

    @admin.display(description="IP ranges")
    def ranges(self, obj):
        return ", ".join(f"{r.start_ip}-{r.end_ip}" for r in obj.ip_ranges.all()) or "-"

    @admin.display(description="")
    def wizard(self, obj):
        return format_html('<a href="{}">ranges, DNS, services</a>', reverse("networks:l3-wizard-step", args=[obj.pk]))


def _add_ip_range(*, user=None, l3_network, **fields):
    return services.add_ip_range(l3_network, user=user, **fields)


@admin.register(IpRange)
class IpRangeAdmin(ServiceAdmin):
    list_display = ["name", "l3_network", "start_ip", "end_ip", "netmask", "gateway", "network_cidr"]
    list_filter = ["l3_network"]
    search_fields = ["name", "start_ip", "end_ip"]
    list_select_related = ["l3_network"]
    fields = ["name", "description", "l3_network", "start_ip", "end_ip", "netmask", "gateway"]
    create_service = _add_ip_range
    update_service = services.update_ip_range
    delete_service = services.delete_ip_range

    def get_readonly_fields(self, request, obj=None):
        return ["l3_network", "start_ip", "end_ip", "netmask", "gateway"] if obj else []


@admin.register(UsedIp)
class UsedIpAdmin(admin.ModelAdmin):
    list_display = ["ip", "l3_network", "ip_range", "owner_type", "owner_uuid", "created"]
    list_filter = ["l3_network", "owner_type"]
    search_fields = ["ip", "owner_uuid"]
    list_select_related = ["l3_network", "ip_range"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


