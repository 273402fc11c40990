from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import reverse

from apps.core.admin import ServiceAdmin, badge_column
from apps.core.fields import human_size

from . import services
from .forms import HostForm
from .models import Cluster, Host, Zone
from .ssh import fingerprint


class ClusterInline(admin.TabularInline):
    model = Cluster
    fields = ["name", "hypervisor_type", "state"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Zone)
class ZoneAdmin(ServiceAdmin):
    list_display = ["name", "state_badge", "description", "created"]
    state_badge = badge_column("state")
    list_filter = ["state"]
    search_fields = ["name", "description"]
    fields = ["name", "description", "state"]
    inlines = [ClusterInline]
    create_service = services.create_zone
    update_service = services.update_zone
    delete_service = services.delete_zone


@admin.register(Cluster)
class ClusterAdmin(ServiceAdmin):
    list_display = ["name", "zone", "hypervisor_type", "state_badge", "created"]
    state_badge = badge_column("state")
    list_filter = ["zone", "hypervisor_type", "state"]
    search_fields = ["name", "description"]
    list_select_related = ["zone"]
    fields = ["name", "description", "zone", "hypervisor_type", "state"]
    create_service = services.create_cluster
    update_service = services.update_cluster
    delete_service = services.delete_cluster

    def get_readonly_fields(self, request, obj=None):
        return ["zone", "hypervisor_type"] if obj else []

    def add_view(self, request, form_url="", extra_context=None):
        # "Add cluster" opens the wizard, which goes on to primary storage and L2 networks.
        if request.method == "GET" and "_popup" not in request.GET:
            return HttpResponseRedirect(reverse("infra:cluster-wizard"))
        return super().add_view(request, form_url, extra_context)


@admin.register(Host)
class HostAdmin(ServiceAdmin):
    form = HostForm
    list_display = ["name", "cluster", "management_ip", "status_badge", "state_badge", "domain_type", "cpus",
                    "memory", "last_heartbeat"]
    status_badge = badge_column("status")
    state_badge = badge_column("state")
    list_filter = ["cluster", "status", "state", "cluster__hypervisor_type"]
    search_fields = ["name", "description", "management_ip"]
    list_select_related = ["cluster"]
    readonly_fields = ["status_badge", "status_message", "cpu_num", "cpu_speed", "memory", "domain_type",
                       "facts_shown",
                       "host_key_fingerprint", "last_heartbeat"]
    actions = ["reconnect"]
    update_service = services.update_host
    delete_service = services.delete_host

    def get_fields(self, request, obj=None):
        fields = ["name", "description", "cluster", "management_ip", "ssh_port", "username", "password", "state"]
        return fields + (self.readonly_fields if obj else [])

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "cluster", "management_ip"] if obj else []

    @admin.display(description="CPUs", ordering="cpu_num")
    def cpus(self, obj):
        return f"{obj.cpu_num} CPU" if obj.cpu_num else "-"

    @admin.display(description="memory", ordering="memory_size")
    def memory(self, obj):
        return human_size(obj.memory_size) if obj.memory_size else "-"

    @admin.display(description="facts")
    def facts_shown(self, obj):
        from apps.core.admin import _pairs

        return _pairs(obj.facts)

    @admin.display(description="SSH host key")
    def host_key_fingerprint(self, obj):
        return fingerprint(obj.host_key) if obj.host_key else ""

    def save_model(self, request, obj, form, change):
        data = dict(form.cleaned_data)
        password = data.pop("password", "") or None
        if change:
            fields = {k: v for k, v in data.items() if k not in ("cluster", "management_ip")}
            services.update_host(obj, user=request.user, password=password, **fields)
            return
        job = services.add_host(user=request.user, password=password or "", **data)
        obj.pk = job.target_id
        obj._state.adding = False
        self.started_jobs(request, [job])

    @admin.action(description="Reconnect the selected hosts")
    def reconnect(self, request, queryset):
        self.run_action(request, queryset, services.reconnect_host)
