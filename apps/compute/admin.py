from django.contrib import admin

from apps.core.admin import ServiceAdmin

from . import lifecycle, services
from .models import InstanceOffering, VmInstance, VmNic


@admin.register(InstanceOffering)
class InstanceOfferingAdmin(ServiceAdmin):
    list_display = ["name", "cpu_num", "cpu_speed", "memory", "allocator_strategy", "created"]
    list_filter = ["cpu_num", "allocator_strategy"]
    search_fields = ["name", "description"]
    fields = ["name", "description", "cpu_num", "cpu_speed", "memory_size", "allocator_strategy"]
    create_service = services.create_instance_offering
    update_service = services.update_instance_offering
    delete_service = services.delete_instance_offering

    @admin.display(description="memory", ordering="memory_size")
    def memory(self, obj):
        from apps.core.fields import format_size

        return format_size(obj.memory_size)


class VmNicInline(admin.TabularInline):
    from .models import VmNic

    model = VmNic
    extra = 0
    can_delete = False
    fields = ["device_index", "l3_network", "ip", "netmask", "gateway", "mac", "internal_name"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(VmInstance)
class VmInstanceAdmin(ServiceAdmin):
    """VMs: their state live from the jobs, and the lifecycle as actions (each a job)."""

    list_display = ["name", "hostname", "state", "guest_kind_label", "host", "addresses", "instance_offering",
                    "created"]
    list_filter = ["state", "guest_kind", "type", "zone"]
    search_fields = ["name", "hostname", "description", "nics__ip", "nics__mac"]
    list_select_related = ["host", "instance_offering"]
    fields = ["name", "description", "hostname", "type", "state", "guest_kind", "zone", "cluster", "host",
              "instance_offering", "image", "console"]
    readonly_fields = ["type", "state", "guest_kind", "zone", "cluster", "host", "instance_offering", "image",
                       "console"]
    inlines = [VmNicInline]
    update_service = services.update_vm
    delete_service = services.delete_vm
    actions = ["start", "stop", "reboot", "destroy"]

    def has_add_permission(self, request):
        return False  # VMs are created through the API or the CLI, which start them as a job

    @admin.display(description="guest kind", ordering="guest_kind")
    def guest_kind_label(self, obj):
        return "Namespace guest (sandbox)" if obj.guest_kind == "Namespace" else "Libvirt"

    @admin.display(description="addresses")
    def addresses(self, obj):
        return ", ".join(n.ip for n in obj.nics.all() if n.ip)

    @admin.display(description="serial console (last lines)")
    def console(self, obj):
        """The serial console a libvirt guest writes to a file on its host, read there by the host's agent."""
        from django.utils.html import format_html

        from apps.compute.console import console_tail
        from apps.core.exceptions import NimboError

        try:
            text = console_tail(obj, size=4000)
        except NimboError as exc:
            return str(exc)
        return format_html("<pre style='max-height:30em;overflow:auto'>{}</pre>", text) if text else \
            "No console output yet."

    @admin.action(description="Start the selected VMs")
    def start(self, request, queryset):
        self.run_action(request, queryset, lifecycle.start_vm)

    @admin.action(description="Stop the selected VMs (graceful, then forced after 30 s)")
    def stop(self, request, queryset):
        self.run_action(request, queryset, lifecycle.stop_vm)

    @admin.action(description="Reboot the selected VMs")
    def reboot(self, request, queryset):
        self.run_action(request, queryset, lifecycle.reboot_vm)

    @admin.action(description="Destroy the selected VMs (guest, disk and addresses)")
    def destroy(self, request, queryset):
        self.run_action(request, queryset, lifecycle.destroy_vm)


@admin.register(VmNic)
class VmNicAdmin(admin.ModelAdmin):
    list_display = ["internal_name", "vm_instance", "l3_network", "ip", "mac", "device_index"]
    list_filter = ["l3_network"]
    search_fields = ["ip", "mac", "internal_name", "vm_instance__name"]
    list_select_related = ["vm_instance", "l3_network"]
    readonly_fields = ["uuid", "vm_instance", "l3_network", "used_ip", "ip", "netmask", "gateway", "mac",
                       "device_index", "internal_name", "created", "updated"]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
