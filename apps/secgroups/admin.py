from django.contrib import admin
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from apps.core.admin import ServiceAdmin
from apps.core.admin_actions import ObjectActionAdmin

from . import services
from .choices import protocol_label
from .forms import AddNicsForm, AttachL3Form, DetachL3Form, RemoveNicsForm, RuleForm
from .models import HostFirewall, SecurityGroup, SecurityGroupL3NetworkRef, SecurityGroupNicRef, SecurityGroupRule


class RuleInline(admin.TabularInline):
    model = SecurityGroupRule
    fk_name = "security_group"
    fields = ["direction", "ethertype", "protocol_name", "ports", "remote", "description"]
    readonly_fields = fields
    verbose_name_plural = "rules (a rule never changes: open it to delete it, add another above)"

    @admin.display(description="protocol")
    def protocol_name(self, obj):
        return protocol_label(obj.protocol)

    @admin.display(description="ports (ICMP: type/code)")
    def ports(self, obj):
        return rule_ports(obj)

    @admin.display(description="allowed from")
    def remote(self, obj):
        return rule_remote(obj)
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class L3Inline(admin.TabularInline):
    model = SecurityGroupL3NetworkRef
    fields = ["l3_network", "created"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "attached L3 networks"

    def has_add_permission(self, request, obj=None):
        return False


class MemberInline(admin.TabularInline):
    model = SecurityGroupNicRef
    fields = ["vm_nic", "created"]
    verbose_name_plural = "member VM NICs"
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


def rule_ports(rule):
    if rule.port_range_min is None:
        return "any"
    if rule.port_range_max is None or rule.port_range_max == rule.port_range_min:
        return str(rule.port_range_min)
    return f"{rule.port_range_min}-{rule.port_range_max}"


def rule_remote(rule):
    if rule.remote_group_id:
        return f"group {rule.remote_group}"
    return rule.remote_ip_prefix or ("0.0.0.0/0" if rule.ethertype == "IPv4" else "::/0")


@admin.register(SecurityGroup)
class SecurityGroupAdmin(ObjectActionAdmin):
    list_display = ["name", "rule_count", "l3s", "member_count", "owner", "description", "updated"]
    search_fields = ["name", "description"]
    list_select_related = ["owner"]
    fields = ["name", "description", "owner", "revision_number", "group_actions"]
    readonly_fields = ["owner", "revision_number", "group_actions"]
    inlines = [RuleInline, L3Inline, MemberInline]
    actions = ["force_delete"]
    create_service = services.create_security_group
    update_service = services.update_security_group
    delete_service = services.delete_security_group
    object_actions = {
        "attach-l3": ("Attach to an L3 network", AttachL3Form, services.attach_l3),
        "detach-l3": ("Detach from an L3 network", DetachL3Form, services.detach_l3),
        "add-nics": ("Add VM NICs", AddNicsForm, services.add_nics),
        "remove-nics": ("Remove VM NICs", RemoveNicsForm, services.remove_nics),
    }

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            n_rules=Count("rules", distinct=True), n_members=Count("nic_refs", distinct=True)).prefetch_related(
            "l3_networks")

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return fields if obj is not None else ["name", "description"]

    def response_add(self, request, obj, post_url_continue=None):
        # A new group is empty: open it, where its rules, L3 networks and NICs are added.
        if "_addanother" in request.POST or "_popup" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        return HttpResponseRedirect(reverse("admin:secgroups_securitygroup_change", args=[obj.pk]))

    @admin.display(description="rules", ordering="n_rules")
    def rule_count(self, obj):
        return obj.n_rules

    @admin.display(description="VM NICs", ordering="n_members")
    def member_count(self, obj):
        return obj.n_members

    @admin.display(description="L3 networks")
    def l3s(self, obj):
        return ", ".join(n.name for n in obj.l3_networks.all()) or "-"

    @admin.display(description="actions")
    def group_actions(self, obj):
        add_rule = format_html('<a class="button" href="{}?security_group={}">Add a rule</a> ',
                               reverse("admin:secgroups_securitygrouprule_add"), obj.pk)
        links = self.action_links(obj, [(name, label) for name, (label, _f, _s) in self.object_actions.items()])
        return format_html("{} {}", add_rule, links)

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
    """Rules are added and deleted, never changed: an existing rule's page is read-only (no Save)."""

    form = RuleForm
    list_display = ["__str__", "security_group", "direction", "ethertype", "protocol_name", "ports", "remote"]
    list_filter = ["direction", "ethertype", "protocol"]
    list_select_related = ["security_group", "remote_group"]
    search_fields = ["security_group__name", "remote_ip_prefix", "description"]
    fields = ["security_group", "direction", "ethertype", "protocol", "port_range_min", "port_range_max",
              "remote_ip_prefix", "remote_group", "description"]
    shown_fields = ["security_group", "direction", "ethertype", "protocol_name", "ports", "remote", "description"]
    create_service = staticmethod(_add_rule)
    update_service = staticmethod(_not_editable)
    delete_service = staticmethod(_delete_rule)

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def get_fields(self, request, obj=None):
        return self.shown_fields if obj else self.fields

    def get_readonly_fields(self, request, obj=None):
        return self.shown_fields if obj else []

    @admin.display(description="protocol", ordering="protocol")
    def protocol_name(self, obj):
        return protocol_label(obj.protocol)

    @admin.display(description="ports (ICMP: type/code)")
    def ports(self, obj):
        return rule_ports(obj)

    @admin.display(description="allowed from")
    def remote(self, obj):
        return rule_remote(obj)

    def response_post_save_add(self, request, obj):
        # Back to the group the rule was added to, where the rule now shows.
        return HttpResponseRedirect(reverse("admin:secgroups_securitygroup_change", args=[obj.security_group_id]))

    def delete_view(self, request, object_id, extra_context=None):
        rule = self.get_object(request, object_id)
        request._nimbo_group = rule.security_group_id if rule else None
        return super().delete_view(request, object_id, extra_context)

    def response_delete(self, request, obj_display, obj_id):
        group = getattr(request, "_nimbo_group", None)
        if group:
            return HttpResponseRedirect(reverse("admin:secgroups_securitygroup_change", args=[group]))
        return super().response_delete(request, obj_display, obj_id)


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
