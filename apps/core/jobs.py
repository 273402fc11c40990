"""Recording every mutating call as a Job, and handing long work to the RQ workers.

Two entry points, one for each kind of call:

- `@operation("createZone")` wraps a short service function. The call runs in one transaction;
  a Job row records who did what to which object and whether it worked, and "<action> finished"
  or "<action> failed: <reason>" is pushed to every open page after the transaction commits.
- `start_job("addHost", "apps.infra.jobs.connect_host", ...)` records a queued Job and, once the
  caller's transaction commits, enqueues it on RQ (the RQ job id is the Job's uuid). The worker
  side is `workers.jobs.runner.execute`, which runs only the handlers named in JOB_HANDLERS.
"""

import contextlib
import contextvars
import functools
import inspect
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils import timezone

from .choices import JobState
from .exceptions import NimboError
from .models import Job
from .notify import notify_job

log = logging.getLogger("nimbo.core.jobs")


def describe_error(exc):
    """(message, field) a user can read for an expected failure."""
    if isinstance(exc, NimboError):
        return exc.message, exc.field
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            field, errors = next(iter(exc.error_dict.items()))
            messages = [m for e in errors for m in e.messages]
            return " ".join(messages), (None if field == "__all__" else field)
        return " ".join(exc.messages), None
    if isinstance(exc, (ProtectedError, RestrictedError)):
        used_by = exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
        return in_use_message(used_by), None
    return str(exc), None


def in_use_message(objects):
    """ "Still used by cluster CLUSTER1, cluster CLUSTER2" for a refused delete."""
    names = []
    for obj in list(objects)[:5]:
        names.append(f"{obj._meta.verbose_name} {obj}")
    more = len(list(objects)) - len(names)
    text = "Still used by " + ", ".join(names)
    return text + (f" and {more} more" if more > 0 else "")


EXPECTED_ERRORS = (NimboError, ValidationError, ProtectedError, RestrictedError)

# Every job handler, `handler(ctx, **params)` in an app's jobs module: the one list of the work that runs
# on the workers. A Job row names one of these; the worker runs nothing else (tests/core/test_registry.py
# checks that each resolves and that every name the code starts is here).
JOB_HANDLERS = {
    "apps.compute.jobs.create_vm",
    "apps.compute.jobs.start_vm",
    "apps.compute.jobs.stop_vm",
    "apps.compute.jobs.reboot_vm",
    "apps.compute.jobs.destroy_vm",
    "apps.images.jobs.add_image",
    "apps.images.jobs.delete_image",
    "apps.infra.jobs.connect_host",
    "apps.infra.jobs.delete_host",
    "apps.infra.jobs.realise_l2",
    "apps.infra.jobs.unrealise_l2",
    "apps.secgroups.jobs.sync_host",
    "apps.storage.jobs.attach_primary_storage",
    "apps.storage.jobs.detach_primary_storage",
    "apps.storage.jobs.reconnect_primary_storage",
    "apps.storage.jobs.add_backup_storage",
    "apps.storage.jobs.reconnect_backup_storage",
    "apps.storage.jobs.create_data_volume",
    "apps.storage.jobs.delete_volume",
    "apps.vrouter.jobs.reconcile_routers",
    "apps.vrouter.jobs.boot_router",
    "apps.vrouter.jobs.migrate_router",
}


def _user_or_none(user):
    return user if getattr(user, "is_authenticated", False) else None


_steps = contextvars.ContextVar("nimbo_operation_steps", default=None)


@contextlib.contextmanager
def operation_step(name):
    """A named step of the running @operation, recorded on its Job (its name, state, times, error);
    outside an operation it only runs the block."""
    steps = _steps.get()
    entry = {"name": name, "state": "running", "started": timezone.now().isoformat(), "finished": None}
    if steps is not None:
        steps.append(entry)
    try:
        yield
    except BaseException as exc:
        entry["state"] = "failed"
        entry["error"] = describe_error(exc)[0] if isinstance(exc, EXPECTED_ERRORS) else str(exc)
        raise
    else:
        entry["state"] = "done"
    finally:
        entry["finished"] = timezone.now().isoformat()


def operation_skip(name, reason):
    """A step of the running @operation that does not apply, and why."""
    steps = _steps.get()
    if steps is not None:
        now = timezone.now().isoformat()
        steps.append({"name": name, "state": "skipped", "reason": reason, "started": now, "finished": now})


def operation(kind, *, target=None):
    """Decorate a service function that changes state synchronously.

    `target` names the keyword argument holding the object acted on (for updates and deletes);
    otherwise the function's return value, if it is a model instance, is the target.
    The wrapped function receives `user` only if it declares it.
    """

    def decorate(func):
        signature = inspect.signature(func)
        wants_user = "user" in signature.parameters

        @functools.wraps(func)
        def wrapper(*args, user=None, **kwargs):
            job = Job(
                kind=kind,
                requested_by=_user_or_none(user),
                state=JobState.RUNNING,
                started=timezone.now(),
                handler=f"{func.__module__}.{func.__qualname__}",
                # A create records its project even when it fails (a quota refused it).
                project_id=getattr(kwargs.get("project"), "pk", None),
            )
            if target:
                bound = signature.bind_partial(*args, **kwargs).arguments
                if isinstance(bound.get(target), models.Model):
                    job.set_target(bound[target])
            call_kwargs = dict(kwargs, user=user) if wants_user else kwargs
            steps = []
            token = _steps.set(steps)
            try:
                with transaction.atomic():
                    result = func(*args, **call_kwargs)
                    if isinstance(result, models.Model) and not target:
                        job.set_target(result)
                    job.steps = steps
                    job.state = JobState.SUCCEEDED
                    job.progress = 100
                    job.finished = timezone.now()
                    job.save()
                    transaction.on_commit(functools.partial(notify_job, job))
            except EXPECTED_ERRORS as exc:
                job.steps = steps
                _record_failure(job, exc)
                raise
            except IntegrityError as exc:
                # The database refused a duplicate the model checks did not see (a race).
                job.steps = steps
                _record_failure(job, exc)
                raise
            finally:
                _steps.reset(token)
            return result

        wrapper.operation_kind = kind
        return wrapper

    return decorate


def _record_failure(job, exc):
    job.state = JobState.FAILED
    job.error, _ = describe_error(exc)
    job.finished = timezone.now()
    # Any row written inside the failed transaction was rolled back with it: insert it anew.
    job._state.adding = True
    job.save(force_insert=True)
    transaction.on_commit(functools.partial(notify_job, job))


def start_job(kind, handler, *, user=None, target=None, params=None, queue="default", timeout=3600):
    """Record a queued Job that runs `handler(ctx, **params)` on a worker after commit.

    `handler` is one of JOB_HANDLERS (the dotted path of a function in an app's jobs module); `params`
    must be JSON.
    """
    if handler not in JOB_HANDLERS:
        raise LookupError(f"{handler} is not a registered job handler: add it to apps.core.jobs.JOB_HANDLERS.")
    job = Job(kind=kind, handler=handler, params=params or {}, requested_by=_user_or_none(user))
    job.set_target(target)
    job.save()
    transaction.on_commit(functools.partial(_enqueue, job, queue, timeout))
    return job


def _enqueue(job, queue, timeout):
    notify_job(job)
    if settings.NIMBO_JOBS_INLINE:
        from workers.jobs.runner import execute

        execute(str(job.uuid))
        return
    import django_rq

    django_rq.get_queue(queue).enqueue_call(
        "workers.jobs.runner.execute",
        args=(str(job.uuid),),
        job_id=str(job.uuid),
        timeout=timeout,
        result_ttl=settings.RQ["DEFAULT_RESULT_TTL"],
    )
