from django.contrib import admin

from apps.core.admin import ServiceAdmin

from . import services
from .models import Cluster, Zone


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
    list_display = ["name", "state", "description", "created"]
    list_filter = ["state"]
    search_fields = ["name", "description"]
    fields = ["name", "description", "state"]
    inlines = [ClusterInline]
    create_service = services.create_zone
    update_service = services.update_zone
    delete_service = services.delete_zone


@admin.register(Cluster)
class ClusterAdmin(ServiceAdmin):
    list_display = ["name", "zone", "hypervisor_type", "state", "created"]
    list_filter = ["zone", "hypervisor_type", "state"]
    search_fields = ["name", "description"]
    list_select_related = ["zone"]
    fields = ["name", "description", "zone", "hypervisor_type", "state"]
    create_service = services.create_cluster
    update_service = services.update_cluster
    delete_service = services.delete_cluster

    def get_readonly_fields(self, request, obj=None):
        return ["zone", "hypervisor_type"] if obj else []
