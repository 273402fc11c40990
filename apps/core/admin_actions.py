"""Admin pages for operations that need one more input (attach an L2 to a cluster, NICs to a security
group, a port forwarding rule or an EIP to a NIC), for every app.

`ObjectActionAdmin.object_actions = {"attach": ("Attach to a cluster", form_class, service)}` adds a
page at <object>/attach/ whose form, once valid, calls `service(obj, user=..., **cleaned_data)`;
a refusal shows as a form error with the service's own words.
"""

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join

from apps.core.admin import ServiceAdmin, add_refusal
from apps.core.jobs import EXPECTED_ERRORS


class ObjectActionAdmin(ServiceAdmin):
    object_actions = {}

    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        extra = [
            path(f"<path:object_id>/{name}/", self.admin_site.admin_view(self._action_view(name)),
                 name=f"{info[0]}_{info[1]}_{name}")
            for name in self.object_actions
        ]
        return extra + super().get_urls()

    def _action_view(self, name):
        def view(request, object_id):
            return self.object_action_view(request, object_id, name)

        return view

    def object_action_view(self, request, object_id, name):
        obj = get_object_or_404(self.get_queryset(request), pk=object_id)
        title, form_class, service = self.object_actions[name]
        # Its choices list only what the request may use, as every other admin form's do (another project's
        # NICs and private L3 networks are absent).
        from apps.projects.access import for_request
        from apps.projects.portal import scope_form

        form = scope_form(form_class(request.POST or None, obj=obj), for_request(request))
        if request.method == "POST" and form.is_valid():
            try:
                service(obj, user=request.user, **form.cleaned_data)
            except EXPECTED_ERRORS as exc:
                add_refusal(form, exc)
            else:
                self.message_user(request, f"{title}: {obj} done.", messages.SUCCESS)
                info = self.model._meta.app_label, self.model._meta.model_name
                return HttpResponseRedirect(reverse(f"admin:{info[0]}_{info[1]}_change", args=[obj.pk]))
        context = {**self.admin_site.each_context(request), "title": f"{title}: {obj}", "form": form, "obj": obj,
                   "opts": self.model._meta}
        return TemplateResponse(request, "core/object_action.html", context)

    @staticmethod
    def action_links(obj, names):
        """Links to the object's action pages, for a read-only field or a list column."""
        info = obj._meta.app_label, obj._meta.model_name
        return format_html_join(" | ", '<a href="{}">{}</a>', (
            (reverse(f"admin:{info[0]}_{info[1]}_{name}", args=[obj.pk]), label) for name, label in names))
