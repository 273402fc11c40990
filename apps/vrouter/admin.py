from django.contrib import admin, messages

from .models import VirtualRouter


@admin.register(VirtualRouter)
class VirtualRouterAdmin(admin.ModelAdmin):
    """Virtual routers: booted by the first VM of their L3 and repaired by the reconcile job (read-only here)."""

    list_display = ["name", "l3_network", "state", "host", "address", "namespace", "last_repair", "updated"]
    list_filter = ["state"]
    search_fields = ["name", "address", "namespace"]
    list_select_related = ["l3_network", "host"]
    readonly_fields = [f.name for f in VirtualRouter._meta.fields]
    actions = ["reconcile"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Check and repair every router now (a job)")
    def reconcile(self, request, queryset):
        from apps.compute.lifecycle import reconcile_routers

        job = reconcile_routers(user=request.user)
        self.message_user(request, f"Reconcile started (job {job.uuid}).", messages.SUCCESS)
