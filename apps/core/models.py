"""The base of every Nimbo resource, and the Job that records every mutating call."""

import uuid

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models

from .choices import JobState
from .validators import CONTROL_CHARACTERS, CONTROL_MESSAGE, LINE_CONTROL_CHARACTERS


class CleanTextMixin:
    """full_clean() refuses NUL and other control characters in every text field, named.

    One place for every model's text (names, descriptions, paths, usernames...), so the admin,
    the wizards and the API refuse the same input; PostgreSQL could not store a NUL anyway.
    A one-line CharField refuses line breaks and tabs too; a TextField keeps them.
    """

    def clean_fields(self, exclude=None):
        errors = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        for field in self._meta.concrete_fields:
            if (exclude and field.name in exclude) or field.name in errors:
                continue
            if isinstance(field, models.TextField):
                pattern = CONTROL_CHARACTERS
            elif isinstance(field, models.CharField):
                pattern = LINE_CONTROL_CHARACTERS
            else:
                continue
            value = getattr(self, field.attname)
            if isinstance(value, str) and pattern.search(value):
                errors[field.name] = [ValidationError(CONTROL_MESSAGE, code="control_characters")]
        if errors:
            raise ValidationError(errors)


class BaseModel(CleanTextMixin, models.Model):
    """What every resource has: a uuid, a name, a description and its creation/update times."""

    uuid = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name="UUID")
    name = models.CharField(max_length=255, verbose_name="name")
    description = models.TextField(blank=True, default="", max_length=2048, verbose_name="description")
    created = models.DateTimeField(auto_now_add=True, verbose_name="created")
    updated = models.DateTimeField(auto_now=True, verbose_name="updated")

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self):
        return self.name


class Job(models.Model):
    """One mutating call (API, portal or admin) and, for long work, the worker job that runs it.

    The uuid is the RQ job id of jobs run by a worker. A job moves queued -> running ->
    succeeded | failed; `error` is a message a user can read; `traceback` is kept only for
    unexpected errors. `steps` is a list of {"name", "state", "started", "finished"}.
    """

    uuid = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name="UUID")
    kind = models.CharField(max_length=100, db_index=True, verbose_name="action")
    state = models.CharField(
        max_length=16, choices=JobState.choices, default=JobState.QUEUED, db_index=True, verbose_name="state"
    )
    target_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name="target type"
    )
    target_id = models.CharField(max_length=64, blank=True, default="", db_index=True, verbose_name="target id")
    target_name = models.CharField(max_length=255, blank=True, default="", verbose_name="target")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="jobs",
        verbose_name="requested by",
    )
    project = models.ForeignKey("projects.Project", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="jobs", verbose_name="project")
    handler = models.CharField(max_length=255, blank=True, default="", verbose_name="handler")
    params = models.JSONField(default=dict, blank=True, verbose_name="parameters")
    progress = models.PositiveSmallIntegerField(default=0, verbose_name="progress (%)")
    steps = models.JSONField(default=list, blank=True, verbose_name="steps")
    result = models.JSONField(default=dict, blank=True, verbose_name="result")
    error = models.TextField(blank=True, default="", verbose_name="error")
    traceback = models.TextField(blank=True, default="", verbose_name="traceback")
    created = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name="created")
    started = models.DateTimeField(null=True, blank=True, verbose_name="started")
    finished = models.DateTimeField(null=True, blank=True, verbose_name="finished")

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="core_job_target_idx")]

    def __str__(self):
        return f"{self.kind} ({self.state})"

    def save(self, *args, **kwargs):
        # An error message may quote what failed (a file name, a host's output): PostgreSQL cannot
        # store a NUL, and the record of a failure must never fail to save in its turn.
        for name in ("error", "traceback", "target_name"):
            value = getattr(self, name)
            if value and "\x00" in value:
                setattr(self, name, value.replace("\x00", "\\x00"))
        super().save(*args, **kwargs)

    @property
    def is_done(self):
        return self.state in (JobState.SUCCEEDED, JobState.FAILED)

    @property
    def message(self):
        """What the toast says: "<action> finished" or "<action> failed: <reason>"."""
        if self.state == JobState.SUCCEEDED:
            return f"{self.kind} finished"
        if self.state == JobState.FAILED:
            return f"{self.kind} failed: {self.error}"
        if self.state == JobState.RUNNING:
            return f"{self.kind} running ({self.progress}%)"
        return f"{self.kind} queued"

    def set_target(self, obj):
        if obj is None:
            return
        # A job on a project's resource belongs to that project: its members see it, others do not.
        if self.project_id is None and getattr(obj, "project_id", None):
            self.project_id = obj.project_id
        self.target_type = ContentType.objects.get_for_model(obj, for_concrete_model=False)
        self.target_id = str(obj.pk)
        self.target_name = str(obj)[:255]

    def as_event(self):
        """The plain-data form pushed to /ws/events/ (and returned by the API)."""
        return {
            "uuid": str(self.uuid),
            "kind": self.kind,
            "state": self.state,
            "progress": self.progress,
            "steps": self.steps,
            "target_type": self.target_type.model if self.target_type_id else None,
            "target_id": self.target_id or None,
            "target_name": self.target_name,
            "project": str(self.project_id) if self.project_id else None,
            "requested_by": self.requested_by_id,
            "error": self.error,
            "result": self.result,
            "message": self.message,
            "finished": self.finished.isoformat() if self.finished else None,
        }
