"""The worker side of a Job: load it, run its handler with a context, record the outcome.

A handler is `def handler(ctx, **params)`. It reports with `ctx.step(...)` and
`ctx.progress(...)`, registers undo actions with `ctx.on_failure(...)` so that a failed job
leaves nothing half-written, and raises `JobFailed` (or any NimboError / ValidationError) for a
failure the user should read. Anything else is an unexpected error: the job fails with a short
message and the traceback is kept on the Job.
"""

import contextlib
import importlib
import logging
import time
import traceback

from django.db import close_old_connections
from django.utils import timezone

from apps.core.choices import JobState
from apps.core.jobs import EXPECTED_ERRORS, JOB_HANDLERS, describe_error
from apps.core.models import Job
from apps.core.notify import notify_job

log = logging.getLogger("nimbo.jobs")

# Progress events are pushed at most this often (a 1 GiB download would otherwise send thousands).
PROGRESS_INTERVAL = 0.5


class JobContext:
    """What a running handler sees of its Job."""

    def __init__(self, job):
        self.job = job
        self._undo = []
        self._last_push = 0.0

    @property
    def user(self):
        return self.job.requested_by

    def _save(self, *fields, push=True):
        self.job.save(update_fields=list(fields))
        if push:
            self._last_push = time.monotonic()
            notify_job(self.job)

    @contextlib.contextmanager
    def step(self, name, progress=None):
        """A named step with timestamps; `progress` is the percent reached when it ends."""
        entry = self.begin_step(name)
        try:
            yield self
        except BaseException as exc:
            self.end_step(entry, "failed",
                          error=describe_error(exc)[0] if isinstance(exc, EXPECTED_ERRORS) else str(exc))
            raise
        else:
            self.end_step(entry, "done", progress=progress)

    def begin_step(self, name):
        """Open a step and show it running at once; `end_step` closes it. For steps whose end is reported
        by events (the tasks of an Ansible run) rather than by a block of code."""
        entry = {"name": name, "state": "running", "started": timezone.now().isoformat(), "finished": None}
        self.job.steps = [*self.job.steps, entry]
        self._save("steps")
        return entry

    def end_step(self, entry, state="done", *, error=None, reason=None, progress=None):
        """Close a step opened by `begin_step`: done, failed (with `error`) or skipped (with `reason`)."""
        entry["state"] = state
        if error is not None:
            entry["error"] = error
        if reason is not None:
            entry["reason"] = reason
        if progress is not None and state == "done":
            self.job.progress = max(self.job.progress, min(100, int(progress)))
        entry["finished"] = timezone.now().isoformat()
        self._save("steps", "progress")

    def skip(self, name, reason):
        """A step that does not apply here (a sandbox host has no packages to install)."""
        now = timezone.now().isoformat()
        entry = {"name": name, "state": "skipped", "reason": reason, "started": now, "finished": now}
        self.job.steps = [*self.job.steps, entry]
        self._save("steps")

    def progress(self, percent, **details):
        """Report progress; `details` (e.g. bytes done/total) go into the job's result."""
        percent = max(0, min(100, int(percent)))
        if details:
            self.job.result = {**self.job.result, **details}
        changed = percent != self.job.progress
        self.job.progress = percent
        due = time.monotonic() - self._last_push >= PROGRESS_INTERVAL
        self._save("progress", "result", push=changed and (due or percent == 100))

    def set_result(self, **data):
        self.job.result = {**self.job.result, **data}
        self._save("result", push=False)

    def on_failure(self, undo):
        """Run `undo()` if the job fails (last registered, first run)."""
        self._undo.append(undo)

    def _run_undo(self):
        for undo in reversed(self._undo):
            try:
                undo()
            except Exception:  # one failed undo must not stop the others
                log.exception("undo step of job %s failed", self.job.uuid)


def _resolve(path):
    """The registered job handler `path` (apps.core.jobs.JOB_HANDLERS); a Job naming anything else errors."""
    if path not in JOB_HANDLERS:
        raise LookupError(f"{path} is not a registered job handler.")
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def execute(job_uuid):
    """RQ entry point: run the Job `job_uuid` to its end. Never raises for a handled failure."""
    close_old_connections()
    job = Job.objects.get(pk=job_uuid)
    if job.is_done:
        return job.state
    job.state = JobState.RUNNING
    job.started = timezone.now()
    ctx = JobContext(job)
    ctx._save("state", "started")
    try:
        handler = _resolve(job.handler)
        result = handler(ctx, **job.params)
    except EXPECTED_ERRORS as exc:
        ctx._run_undo()
        job.error = describe_error(exc)[0]
        job.state = JobState.FAILED
    except Exception as exc:  # an unexpected error still ends the job, traceback kept
        log.exception("job %s (%s) errored", job.uuid, job.kind)
        ctx._run_undo()
        job.error = f"Internal error: {exc.__class__.__name__}: {exc}"
        job.traceback = traceback.format_exc()
        job.state = JobState.FAILED
    else:
        if isinstance(result, dict):
            job.result = {**job.result, **result}
        job.state = JobState.SUCCEEDED
        job.progress = 100
    job.finished = timezone.now()
    ctx._save("state", "error", "traceback", "result", "progress", "finished")
    close_old_connections()
    return job.state
