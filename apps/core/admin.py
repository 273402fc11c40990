from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from .jobs import EXPECTED_ERRORS, describe_error
from .models import Job


class ServiceAdmin(admin.ModelAdmin):
    """Admin whose saves and deletes go through the same service functions as the API.

    Declare `create_service`, `update_service`, `delete_service` (plain functions).
    A refusal raised by a service shows as an error message on the same page.
    """

    create_service = None
    update_service = None
    delete_service = None

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in form.cleaned_data if f in {fl.name for fl in obj._meta.get_fields()}}
        m2m = {f: data.pop(f) for f in list(data) if obj._meta.get_field(f).many_to_many}
        if change:
            saved = type(self).update_service(obj, user=request.user, **data, **m2m)
        else:
            saved = type(self).create_service(user=request.user, **data, **m2m)
        # The admin goes on to log the change with `obj`: give it the saved identity.
        obj.pk = saved.pk
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        # Many-to-many fields were handed to the service with the rest; inlines still save here.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request, obj):
        type(self).delete_service(obj, user=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            type(self).delete_service(obj, user=request.user)

    def changeform_view(self, request, *args, **kwargs):
        try:
            return super().changeform_view(request, *args, **kwargs)
        except EXPECTED_ERRORS as exc:
            message, field = describe_error(exc)
            self.message_user(request, f"{field}: {message}" if field else message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request, *args, **kwargs):
        try:
            return super().delete_view(request, *args, **kwargs)
        except EXPECTED_ERRORS as exc:
            self.message_user(request, describe_error(exc)[0], messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def run_action(self, request, queryset, service, **kwargs):
        """Call `service(obj, user=...)` for each selected object; report each refusal."""
        done = 0
        for obj in queryset:
            try:
                service(obj, user=request.user, **kwargs)
                done += 1
            except EXPECTED_ERRORS as exc:
                self.message_user(request, f"{obj}: {describe_error(exc)[0]}", messages.ERROR)
        if done:
            self.message_user(request, f"{done} done.", messages.SUCCESS)


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["kind", "target_name", "state", "progress", "requested_by", "created", "finished", "live"]
    list_filter = ["state", "kind"]
    search_fields = ["kind", "target_name", "error", "uuid"]
    readonly_fields = [f.name for f in Job._meta.fields]
    list_select_related = ["requested_by"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="live page")
    def live(self, obj):
        return format_html('<a href="{}">open</a>', reverse("core:job-detail", args=[obj.pk]))
