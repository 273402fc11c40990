from django.contrib import admin, messages

from apps.core.admin import ServiceAdmin, badge_column
from apps.core.admin_actions import ObjectActionAdmin

from . import services
from .forms import NicForm, PortForwardingNicForm, VipForm
from .models import Eip, PortForwardingRule, VirtualRouter, VirtualRouterOffering, Vip


@admin.register(VirtualRouterOffering)
class VirtualRouterOfferingAdmin(ServiceAdmin):
    list_display = ["name", "zone", "cpu_num", "cpu_speed", "memory", "image", "management_l3", "public_l3",
                    "is_default"]
    list_filter = ["zone", "is_default"]
    search_fields = ["name", "description"]
    list_select_related = ["zone", "image", "management_l3", "public_l3"]
    fields = ["name", "description", "zone", "cpu_num", "cpu_speed", "memory_size", "image", "management_l3",
              "public_l3", "is_default"]
    create_service = services.create_vr_offering
    update_service = services.update_vr_offering
    delete_service = services.delete_vr_offering

    @admin.display(description="memory", ordering="memory_size")
    def memory(self, obj):
        from apps.core.fields import human_size

        return human_size(obj.memory_size)

    def get_readonly_fields(self, request, obj=None):
        return ["zone"] if obj else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "image":
            from apps.images.models import Image

            kwargs["queryset"] = Image.objects.filter(system=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Vip)
class VipAdmin(ServiceAdmin):
    form = VipForm
    list_display = ["name", "ip", "l3_network", "state", "use_for", "created"]
    list_filter = ["l3_network", "state", "snat"]
    search_fields = ["name", "ip", "description"]
    list_select_related = ["l3_network"]
    create_service = services.create_vip
    update_service = services.update_vip
    delete_service = services.delete_vip

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("port_forwarding_rules").select_related("eip")

    def get_fields(self, request, obj=None):
        return ["name", "description", "l3_network", "state"] if obj else ["name", "description", "l3_network",
                                                                          "ip", "state"]

    def get_readonly_fields(self, request, obj=None):
        return ["l3_network"] if obj else []

    @admin.display(description="used for")
    def use_for(self, obj):
        uses = []
        if obj.port_forwarding_rules.all():
            uses.append("PortForwarding")
        if getattr(obj, "eip", None) is not None:
            uses.append("Eip")
        if obj.snat:
            uses.append("SNAT")
        return ", ".join(uses) or "-"

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        saved = services.create_vip(user=request.user, ip=form.cleaned_data.get("ip") or None,
                                    **{f: form.cleaned_data[f] for f in ("name", "description", "l3_network",
                                                                         "state")})
        obj.pk = saved.pk
        obj._state.adding = False


class NicActionsMixin:
    list_actions_label = "VM NIC"

    def get_fields(self, request, obj=None):
        # Attaching needs a saved object: an Add page offers no links to pages that would answer 404.
        fields = super().get_fields(request, obj)
        return fields if obj is not None else [f for f in fields if f != "nic_actions"]

    @admin.display(description="VM NIC")
    def nic_actions(self, obj):
        if obj._state.adding:
            return "-"
        return self.action_links(obj, [("attach", "Attach to a VM NIC"), ("detach", "Detach")])

    @admin.action(description="Detach from the VM NIC")
    def detach_selected(self, request, queryset):
        self.run_action(request, queryset, type(self).object_actions["detach"][2])


class NoInputForm(NicForm):
    def __init__(self, *args, obj, **kwargs):
        super().__init__(*args, obj=obj, **kwargs)
        del self.fields["vm_nic"]


@admin.register(PortForwardingRule)
class PortForwardingRuleAdmin(NicActionsMixin, ObjectActionAdmin):
    list_display = ["name", "vip", "protocol", "vip_ports", "guest_ports", "allowed_cidr", "state", "vm_nic"]
    list_filter = ["protocol", "state", "vip"]
    search_fields = ["name", "description"]
    list_select_related = ["vip", "vm_nic__vm_instance"]
    fields = ["name", "description", "vip", "protocol", "vip_port_start", "vip_port_end", "guest_port_start",
              "guest_port_end", "allowed_cidr", "state", "vm_nic", "nic_actions"]
    actions = ["detach_selected"]
    create_service = services.create_port_forwarding_rule
    update_service = services.update_port_forwarding_rule
    delete_service = services.delete_port_forwarding_rule
    object_actions = {
        "attach": ("Attach to a VM NIC", PortForwardingNicForm, services.attach_port_forwarding_rule),
        "detach": ("Detach from the VM NIC", NoInputForm, services.detach_port_forwarding_rule),
    }

    def get_readonly_fields(self, request, obj=None):
        frozen = ["vip", "protocol", "vip_port_start", "vip_port_end", "guest_port_start", "guest_port_end",
                  "vm_nic"] if obj else []
        return [*frozen, "nic_actions"]

    @admin.display(description="VIP ports")
    def vip_ports(self, obj):
        return f"{obj.vip_port_start}-{obj.vip_port_end}"

    @admin.display(description="guest ports")
    def guest_ports(self, obj):
        return f"{obj.guest_port_start}-{obj.guest_port_end}"


@admin.register(Eip)
class EipAdmin(NicActionsMixin, ObjectActionAdmin):
    list_display = ["name", "vip", "vm_nic", "guest_ip", "state", "created"]
    list_filter = ["state"]
    search_fields = ["name", "description"]
    list_select_related = ["vip", "vm_nic__vm_instance"]
    fields = ["name", "description", "vip", "vm_nic", "state", "nic_actions"]
    actions = ["detach_selected"]
    create_service = services.create_eip
    update_service = services.update_eip
    delete_service = services.delete_eip
    object_actions = {
        "attach": ("Attach to a VM NIC", NicForm, services.attach_eip),
        "detach": ("Detach from the VM NIC", NoInputForm, services.detach_eip),
    }

    def get_readonly_fields(self, request, obj=None):
        return ["vip", "vm_nic", "nic_actions"] if obj else ["nic_actions"]


@admin.register(VirtualRouter)
class VirtualRouterAdmin(admin.ModelAdmin):
    """Virtual routers: booted by the first VM of their L3, repaired by the periodic check; rebuilt or deleted
    here through the same services as the API (each a job or an operation)."""

    state_badge = badge_column("state")
    list_display = ["name", "l3_network", "state_badge", "host", "address", "public_address", "namespace",
                    "last_repair", "last_repaired", "updated"]
    list_filter = ["state"]
    search_fields = ["name", "address", "public_address", "namespace"]
    list_select_related = ["l3_network", "host"]
    readonly_fields = [f.name for f in VirtualRouter._meta.fields]
    actions = ["reconcile", "rebuild", "remove"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request)  # a router's page is read-only: no Save

    def has_delete_permission(self, request, obj=None):
        return False  # through the "remove" action: refused while VMs use the router's network

    @admin.action(description="Check and repair every router now (a job)")
    def reconcile(self, request, queryset):
        from apps.compute.lifecycle import reconcile_routers

        job = reconcile_routers(user=request.user)
        self.message_user(request, f"Reconcile started (job {job.uuid}).", messages.SUCCESS)

    @admin.action(description="Rebuild the selected routers on their hosts (jobs)")
    def rebuild(self, request, queryset):
        self._each(request, queryset, lambda vr: services.rebuild_virtual_router(vr, user=request.user),
                   "rebuild started")

    @admin.action(description="Delete the selected routers (once no VM uses their network)")
    def remove(self, request, queryset):
        self._each(request, queryset, lambda vr: services.delete_virtual_router(vr, user=request.user), "deleted")

    def _each(self, request, queryset, call, done):
        from apps.core.jobs import EXPECTED_ERRORS, describe_error

        for vr in queryset.select_related("host__cluster", "l3_network__l2_network", "public_l3__l2_network"):
            try:
                call(vr)
            except EXPECTED_ERRORS as exc:
                self.message_user(request, f"{vr.name}: {describe_error(exc)[0]}", messages.ERROR)
            else:
                self.message_user(request, f"{vr.name}: {done}.", messages.SUCCESS)
