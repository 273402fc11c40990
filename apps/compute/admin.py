from django import forms
from django.contrib import admin, messages
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from apps.core.admin import ServiceAdmin, state_badge
from apps.core.fields import human_size
from apps.core.jobs import EXPECTED_ERRORS, describe_error
from apps.images.models import Image
from apps.networks.models import L3Network
from apps.secgroups.models import SecurityGroup

from . import lifecycle, services
from .models import InstanceOffering, VmInstance, VmNic


@admin.register(InstanceOffering)
class InstanceOfferingAdmin(ServiceAdmin):
    list_display = ["name", "vcpus", "cpu_speed", "memory", "allocator_strategy", "created"]
    list_filter = ["cpu_num", "allocator_strategy"]
    search_fields = ["name", "description"]
    fields = ["name", "description", "cpu_num", "cpu_speed", "memory_size", "allocator_strategy"]
    create_service = services.create_instance_offering
    update_service = services.update_instance_offering
    delete_service = services.delete_instance_offering

    @admin.display(description="CPUs", ordering="cpu_num")
    def vcpus(self, obj):
        return f"{obj.cpu_num} vCPU"

    @admin.display(description="memory", ordering="memory_size")
    def memory(self, obj):
        from apps.core.fields import human_size

        return human_size(obj.memory_size)


class VmCreateForm(forms.ModelForm):
    """New VM: what ZStack's and Horizon's dialogs ask, the guest kind for sandbox hosts."""

    l3_networks = forms.ModelMultipleChoiceField(
        queryset=L3Network.objects.filter(system=False).select_related("l2_network"), label="L3 networks",
        widget=forms.CheckboxSelectMultiple, help_text="One NIC per network, in this order; the first is the default.")
    security_groups = forms.ModelMultipleChoiceField(
        queryset=SecurityGroup.objects.all(), required=False, label="Security groups",
        widget=forms.CheckboxSelectMultiple,
        help_text="Optional: the VM's NICs join these groups (each must be attached to one of its L3 networks).")

    class Meta:
        model = VmInstance
        fields = ["name", "hostname", "description", "instance_offering", "image", "l3_networks",
                  "security_groups", "guest_kind"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["instance_offering"].required = True
        self.fields["image"].required = True
        self.fields["image"].queryset = Image.objects.filter(system=False, state="Ready")
        self.fields["instance_offering"].label_from_instance = offering_label


def offering_label(offering):
    return f"{offering.name} ({offering.cpu_num} vCPU, {human_size(offering.memory_size)})"


STATE_ACTIONS = [("start", "Start", lifecycle.start_vm), ("stop", "Stop", lifecycle.stop_vm),
                 ("reboot", "Reboot", lifecycle.reboot_vm), ("destroy", "Destroy", lifecycle.destroy_vm)]


@admin.register(VmInstance)
class VmInstanceAdmin(ServiceAdmin):
    """VMs: created and started from the New VM form, their lifecycle as buttons on their page (each a job)."""

    list_display = ["name", "hostname", "state_badge", "guest_kind_label", "host", "addresses", "instance_offering",
                    "created"]
    list_filter = ["state", "guest_kind", "type", "zone"]
    search_fields = ["name", "hostname", "description", "nics__ip", "nics__mac"]
    list_select_related = ["host", "instance_offering"]
    fields = ["name", "description", "hostname", "type", "state_badge", "guest_kind", "zone", "cluster", "host",
              "instance_offering", "image"]
    readonly_fields = ["type", "state_badge", "guest_kind", "zone", "cluster", "host", "instance_offering", "image"]
    change_form_template = "compute/vm_change_form.html"
    update_service = services.update_vm
    delete_service = services.delete_vm
    actions = ["start", "stop", "reboot", "destroy"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("nics")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = VmCreateForm
            kwargs["fields"] = VmCreateForm.Meta.fields
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        return self.fields if obj else VmCreateForm.Meta.fields

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        data = dict(form.cleaned_data)
        vm, job = lifecycle.create_and_start_vm(user=request.user, **data)
        obj.pk = vm.pk
        obj._state.adding = False
        self.message_user(request, f"VM {vm.name} recorded; it boots in the background (startVmInstance).",
                          messages.INFO)

    def response_add(self, request, obj, post_url_continue=None):
        if "_addanother" in request.POST or "_popup" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        return HttpResponseRedirect(reverse("admin:compute_vminstance_change", args=[obj.pk]))

    def get_urls(self):
        return [
            path("<path:object_id>/do/<str:name>/", self.admin_site.admin_view(self.vm_action_view),
                 name="compute_vminstance_do"),
            path("<path:object_id>/nics/<uuid:nic>/groups/", self.admin_site.admin_view(self.nic_groups_view),
                 name="compute_vminstance_nic_groups"),
            path("<path:object_id>/console/", self.admin_site.admin_view(self.console_view),
                 name="compute_vminstance_console"),
            path("<path:object_id>/nics/<uuid:nic>/firewall/", self.admin_site.admin_view(self.nic_firewall_view),
                 name="compute_vminstance_nic_firewall"),
            *super().get_urls(),
        ]

    def _vm_or_404(self, request, object_id):
        vm = self.get_object(request, object_id)
        if vm is None or not self.has_view_permission(request, vm):
            raise Http404("No such VM.")
        return vm

    def vm_action_view(self, request, object_id, name):
        """Start, stop, reboot or destroy from the VM's page: one service call, its job announced by a toast."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        vm = self._vm_or_404(request, object_id)
        service = {n: f for n, _label, f in STATE_ACTIONS}.get(name)
        if service is None or not self.has_change_permission(request, vm):
            raise Http404("No such action.")
        try:
            job = service(vm, user=request.user)
        except EXPECTED_ERRORS as exc:
            self.message_user(request, describe_error(exc)[0], messages.ERROR)
        else:
            self.message_user(request, f"{job.kind} started for {vm.name}.", messages.INFO)
        if name == "destroy":
            return HttpResponseRedirect(reverse("admin:compute_vminstance_changelist"))
        return HttpResponseRedirect(reverse("admin:compute_vminstance_change", args=[vm.pk]))

    def nic_groups_view(self, request, object_id, nic):
        """A NIC joins (POST group=<uuid>) or leaves (POST group=<uuid>, leave=1) a security group."""
        from apps.secgroups import services as sg_services

        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        vm = self._vm_or_404(request, object_id)
        nic = get_object_or_404(vm.nics.all(), pk=nic)
        from apps.projects.access import for_request

        groups = for_request(request).scope(SecurityGroup.objects.all())  # another project's: as if absent
        group = groups.filter(pk=request.POST.get("group")).first() if _is_uuid(request.POST.get("group")) else None
        if group is None or not self.has_change_permission(request, vm):
            self.message_user(request, "Choose a security group.", messages.ERROR)
        else:
            service = sg_services.remove_nics if request.POST.get("leave") else sg_services.add_nics
            try:
                service(group, [nic], user=request.user)
            except EXPECTED_ERRORS as exc:
                self.message_user(request, describe_error(exc)[0], messages.ERROR)
            else:
                verb = "left" if request.POST.get("leave") else "joined"
                self.message_user(request, f"NIC {nic.ip or nic.mac} {verb} security group {group}.",
                                  messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:compute_vminstance_change", args=[vm.pk]) + "#security-groups")

    def nic_firewall_view(self, request, object_id, nic):
        """A NIC's firewall: its groups, their rules, and the chains its host really holds (read back live)."""
        from apps.secgroups.admin import rule_ports, rule_remote
        from apps.secgroups.choices import protocol_label
        from apps.secgroups.models import SecurityGroupRule
        from apps.secgroups.realised import nic_firewall
        from apps.secgroups.tracing import trace_form

        vm = self._vm_or_404(request, object_id)
        nic = get_object_or_404(vm.nics.select_related("vm_instance__host", "l3_network"), pk=nic)
        data = nic_firewall(nic)
        groups = []
        for group in data["groups"]:
            rules = SecurityGroupRule.objects.filter(security_group=group["uuid"]).select_related("remote_group")
            groups.append({**group, "rows": [(r.direction, r.ethertype, protocol_label(r.protocol), rule_ports(r),
                                              rule_remote(r)) for r in rules]})
        realised = data["realised"] or {}
        lines = [*realised.get("v4", []), *realised.get("v6", []), *realised.get("eb", [])]
        context = {**self.admin_site.each_context(request), "title": f"Firewall of {vm.name}'s NIC {nic.ip or nic.mac}",
                   "opts": self.model._meta, "original": vm, "vm": vm, "nic": nic, "groups": groups, "lines": lines,
                   "firewall": data, "trace": trace_form(nic, request.GET)}
        return TemplateResponse(request, "compute/nic_firewall.html", context)

    def console_view(self, request, object_id):
        """The console's last lines, for the page's refresh (HTMX)."""
        vm = self._vm_or_404(request, object_id)
        return TemplateResponse(request, "compute/vm_console.html", {"console": console_text(vm), "vm": vm})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        vm = self.get_object(request, object_id)
        if vm is not None:
            extra_context = {**(extra_context or {}), **vm_page_context(vm)}
            if not self.has_change_permission(request, vm):  # a reader sees the VM, not its buttons
                extra_context["vm_actions"] = []
                for nic in extra_context["vm_nics"]:
                    nic.joinable = []
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="state", ordering="state")
    def state_badge(self, obj):
        return state_badge(obj.state, obj)

    @admin.display(description="guest kind", ordering="guest_kind")
    def guest_kind_label(self, obj):
        return "Namespace guest (sandbox)" if obj.guest_kind == "Namespace" else "Libvirt"

    @admin.display(description="addresses")
    def addresses(self, obj):
        return ", ".join(n.ip for n in obj.nics.all() if n.ip)

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


def _is_uuid(value):
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def console_text(vm):
    """The serial console a libvirt guest writes to a file on its host, read there by the host's agent."""
    from apps.compute.console import console_tail
    from apps.core.exceptions import NimboError

    if vm.guest_kind == "Namespace":
        return "A namespace guest has no serial console; its shell opens here while it runs."
    try:
        return console_tail(vm, size=4000) or "No console output yet."
    except NimboError as exc:
        return str(exc)


def vm_page_context(vm):
    """What the VM's page shows besides its fields: NICs with groups, the actions, its jobs and, in Error, why."""
    from apps.core.models import Job

    nics = list(vm.nics.select_related("l3_network").prefetch_related("security_groups").order_by("device_index"))
    for nic in nics:
        joined = {g.pk for g in nic.security_groups.all()}
        groups = SecurityGroup.objects.filter(l3_refs__l3_network=nic.l3_network_id)
        if vm.project_id:  # a NIC joins only groups of its VM's project
            groups = groups.filter(project=vm.project_id)
        nic.joinable = [g for g in groups.distinct() if g.pk not in joined]
    jobs = list(Job.objects.filter(target_id=str(vm.pk)).order_by("-created")[:5])
    failed = next((j for j in jobs if j.state == "failed"), None) if vm.state == "Error" else None
    actions = [(name, label) for name, label, _f in STATE_ACTIONS]
    from apps.core.admin import state_tone

    memory = human_size(vm.instance_offering.memory_size) if vm.instance_offering_id else ""
    return {"vm": vm, "vm_state_tone": state_tone(vm.state), "vm_memory": memory, "vm_nics": nics, "vm_jobs": jobs,
            "vm_failed_job": failed, "vm_actions": actions, "vm_console": console_text(vm)}


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

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request)  # a NIC's page is read-only: no Save

    def has_delete_permission(self, request, obj=None):
        return False
