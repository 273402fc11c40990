from django.contrib import admin
from django.utils.html import format_html, format_html_join

from apps.core.admin import ServiceAdmin

from . import services
from .models import HostFirewall, SecurityGroup, SecurityGroupNicRef, SecurityGroupRule


class RuleInline(admin.TabularInline):
    model = SecurityGroupRule
    fk_name = "security_group"
    fields = ["direction", "ethertype", "protocol", "port_range_min", "port_range_max", "remote_ip_prefix",
              "remote_group", "description"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class MemberInline(admin.TabularInline):
    model = SecurityGroupNicRef
    fields = ["vm_nic", "created"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SecurityGroup)
class SecurityGroupAdmin(ServiceAdmin):
    list_display = ["name", "owner", "revision_number", "description", "updated"]
    search_fields = ["name", "description"]
    list_select_related = ["owner"]
    fields = ["name", "description", "owner", "revision_number"]
    readonly_fields = ["owner", "revision_number"]
    inlines = [RuleInline, MemberInline]
    actions = ["force_delete"]
    create_service = services.create_security_group
    update_service = services.update_security_group
    delete_service = services.delete_security_group

    @admin.action(description="Delete, removing their NICs first (force)")
    def force_delete(self, request, queryset):
        self.run_action(request, queryset, services.delete_security_group, force=True)


def _add_rule(user=None, security_group=None, **fields):
    return services.add_rule(security_group, user=user, **fields)


def _delete_rule(rule, user=None):
    services.delete_rule(rule, user=user)


def _not_editable(rule, user=None, **fields):
    from apps.core.exceptions import InvalidInput

    raise InvalidInput("A rule never changes: delete it and add another.")


@admin.register(SecurityGroupRule)
class SecurityGroupRuleAdmin(ServiceAdmin):
    list_display = ["__str__", "security_group", "direction", "ethertype", "protocol", "port_range_min",
                    "port_range_max", "remote_ip_prefix", "remote_group"]
    list_filter = ["direction", "ethertype"]
    list_select_related = ["security_group", "remote_group"]
    search_fields = ["security_group__name", "remote_ip_prefix", "description"]
    fields = ["security_group", "direction", "ethertype", "protocol", "port_range_min", "port_range_max",
              "remote_ip_prefix", "remote_group", "description"]
    create_service = staticmethod(_add_rule)
    update_service = staticmethod(_not_editable)
    delete_service = staticmethod(_delete_rule)

    def get_readonly_fields(self, request, obj=None):
        return self.fields if obj else []


@admin.register(SecurityGroupNicRef)
class SecurityGroupMemberAdmin(admin.ModelAdmin):
    """Which NIC is in which group, and what its host really enforces for it (read back live)."""

    list_display = ["vm_nic", "security_group", "created"]
    list_select_related = ["vm_nic__vm_instance", "security_group"]
    search_fields = ["security_group__name", "vm_nic__ip", "vm_nic__mac", "vm_nic__vm_instance__name"]
    fields = ["vm_nic", "security_group", "created", "realised_rules"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # NICs join through the group's API or the VM's page (services.add_nics)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="rules realised on the host")
    def realised_rules(self, obj):
        from .realised import nic_firewall

        data = nic_firewall(obj.vm_nic)
        if data["read_back_error"]:
            return f"Read-back failed: {data['read_back_error']}"
        if not data["realised"]:
            return "Not placed on a host."
        lines = [*data["realised"]["v4"], *data["realised"]["v6"], *data["realised"].get("eb", [])]
        drift = format_html("<p>Drift: {}</p>", data["drift"]) if data["drift"] else ""
        return format_html("{}<pre>{}</pre>", drift, format_html_join("\n", "{}", ((line,) for line in lines)))


@admin.register(HostFirewall)
class HostFirewallAdmin(admin.ModelAdmin):
    list_display = ["host", "last_applied", "failures", "last_error", "last_reconciled", "drift"]
    list_select_related = ["host"]
    readonly_fields = [f.name for f in HostFirewall._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
