from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.template.loader import render_to_string
from django.utils.html import format_html, format_html_join

from .jobs import EXPECTED_ERRORS, describe_error
from .models import Job


STATE_TONES = {
    "ok": {"Running", "Connected", "Ready", "Enabled", "succeeded", "Available"},
    "busy": {"Starting", "Stopping", "Rebooting", "Connecting", "Creating", "Downloading", "Destroying", "queued",
             "running", "Migrating"},
    "bad": {"Error", "Disconnected", "Failed", "failed", "Degraded"},
}


def state_tone(state):
    return next((tone for tone, states in STATE_TONES.items() if state in states), "idle")


def state_badge(state, obj=None, label=None):
    """A state as a coloured badge; `data-pk` lets the page refresh it live when a job on `obj` ends."""
    pk = str(obj.pk) if obj is not None and obj.pk else ""
    return format_html('<span class="nimbo-badge nimbo-{}" data-state="{}" data-pk="{}">{}</span>', state_tone(state),
                       state, pk, label or state)


def badge_column(field, description=None):
    """A list/detail column showing `field` as a state badge: `state_badge = badge_column("state")`."""

    @admin.display(description=description or field, ordering=field)
    def column(self, obj):
        value = getattr(obj, field)
        display = getattr(obj, f"get_{field}_display", None)
        return state_badge(value, obj, display() if display else value)

    return column


def add_refusal(form, exc):
    """Put a service's refusal on a form: each error on the field it names, else above the form."""
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error.messages)
        return
    message, field = describe_error(exc)
    if field and field not in form.fields:
        message = f"{field}: {message}"
    form.add_error(field if field in form.fields else None, message)


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

    def started_jobs(self, request, jobs):
        """The add started these jobs: the object exists only once they succeed (see `response_add`)."""
        request._nimbo_started_jobs = [j for j in jobs if j is not None]

    def response_add(self, request, obj, post_url_continue=None):
        """An object added by a job is not "added successfully" yet: the job may still fail (and remove
        it). Say that it runs and open its live page, where its steps and any failure show."""
        jobs = getattr(request, "_nimbo_started_jobs", None)
        if not jobs:
            return super().response_add(request, obj, post_url_continue)
        kinds = ", ".join(sorted({j.kind for j in jobs}))
        count = f"{len(jobs)} jobs" if len(jobs) > 1 else "a job"
        self.message_user(request, format_html(
            "{} {} is being added by {} ({}): it is ready once the job succeeds; if the job fails, this page "
            "says why.", obj._meta.verbose_name.capitalize(), obj, count, kinds), messages.INFO)
        return HttpResponseRedirect(reverse("core:job-detail", args=[jobs[0].pk]))

    def save_related(self, request, form, formsets, change):
        # Many-to-many fields were handed to the service with the rest; inlines still save here.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request, obj):
        result = type(self).delete_service(obj, user=request.user)
        if isinstance(result, Job):  # a delete done by a job (a host, a volume): see `response_delete`
            self.started_jobs(request, [result])

    def response_delete(self, request, obj_display, obj_id):
        """A delete done by a job is not done yet: the job may still fail (and keep the object). Say that it
        runs and open its live page, rather than "deleted successfully"."""
        jobs = getattr(request, "_nimbo_started_jobs", None)
        if not jobs:
            return super().response_delete(request, obj_display, obj_id)
        self.message_user(request, format_html(
            "{} {} is being deleted by a job ({}): it is gone once the job succeeds; if the job fails, this page "
            "says why.", self.opts.verbose_name.capitalize(), obj_display, jobs[0].kind), messages.INFO)
        return HttpResponseRedirect(reverse("core:job-detail", args=[jobs[0].pk]))

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            type(self).delete_service(obj, user=request.user)

    def changeform_view(self, request, *args, **kwargs):
        try:
            return super().changeform_view(request, *args, **kwargs)
        except EXPECTED_ERRORS as exc:
            if request.method != "POST":
                message, field = describe_error(exc)
                self.message_user(request, f"{field}: {message}" if field else message, messages.ERROR)
                return HttpResponseRedirect(request.get_full_path())
            # The service refused what was typed: show the same form again, with the user's input and the
            # refusal next to the field it names (the transaction of the first attempt was rolled back).
            request._nimbo_refusal = exc
            return super().changeform_view(request, *args, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        refusal = getattr(request, "_nimbo_refusal", None)
        if refusal is None:
            return form

        class Refused(form):
            def clean(self):
                cleaned = super().clean()
                add_refusal(self, refusal)
                return cleaned

        Refused.__name__ = form.__name__
        return Refused

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
    list_display = ["kind", "target_name", "state_badge", "progress", "requested_by", "created", "finished", "live"]
    list_filter = ["state", "kind"]
    search_fields = ["kind", "target_name", "error", "uuid"]
    fields = ["kind", "target_name", "state_badge", "progress", "error", "steps_table", "requested_by", "created",
              "started", "finished", "params_shown", "result_shown", "traceback", "uuid"]
    readonly_fields = fields
    list_select_related = ["requested_by"]

    @admin.display(description="state", ordering="state")
    def state_badge(self, obj):
        return state_badge(obj.state, obj, obj.get_state_display())

    @admin.display(description="steps")
    def steps_table(self, obj):
        return render_to_string("core/job_steps.html", {"job": obj}) if obj.steps else "-"

    @admin.display(description="parameters")
    def params_shown(self, obj):
        return _pairs(obj.params)

    @admin.display(description="result")
    def result_shown(self, obj):
        return _pairs(obj.result)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="live page")
    def live(self, obj):
        return format_html('<a href="{}">open</a>', reverse("core:job-detail", args=[obj.pk]))


def _pairs(data):
    """A JSON object as "key: value" lines (nested values stay compact JSON)."""
    import json

    if not data:
        return "-"
    if not isinstance(data, dict):
        return json.dumps(data)
    return format_html_join(format_html("<br>"), "<b>{}</b>: {}", (
        (key, value if isinstance(value, (str, int, float)) else json.dumps(value)) for key, value in data.items()))
