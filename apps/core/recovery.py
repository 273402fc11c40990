"""Jobs interrupted by a stop of the management node, resolved when it starts again.

A worker killed mid-job (the node stopped, rebooted or crashed) leaves its Job `running` for ever,
and a Redis that lost its data leaves `queued` Jobs that nothing will run. `make run` calls
`resolve_interrupted_jobs()` before it starts its workers: such a Job ends `failed` with a reason a
user can act on, its running step is marked failed, and a VM it left half-way (Starting, Stopping...)
turns Error, so nothing claims a state no host has. A Job still served by a live worker (another
management node sharing the database and Redis) is left alone.
"""

import datetime
import logging
import os
import socket

from django.utils import timezone

from .choices import JobState
from .models import Job
from .notify import notify_job

log = logging.getLogger("nimbo.core.recovery")
INTERRUPTED = ("Interrupted: the management node stopped while this job ran{where}. Nothing more happens for "
               "it; run it again.")
QUEUED_GRACE = 60
LOST = "Lost: the job queue (Redis) lost this job before a worker took it. Nothing ran; run it again."


def _pid_alive(pid):
    try:
        os.kill(int(pid), 0)
        return True
    except (OSError, TypeError, ValueError):
        return False


def _jobs_on_live_workers(connection):
    """RQ job ids that a worker is running now (a local worker whose process is gone does not count)."""
    from rq import Worker

    here = socket.gethostname()
    ids = set()
    for worker in Worker.all(connection=connection):
        if worker.hostname == here and not _pid_alive(worker.pid):
            continue
        current = worker.get_current_job_id()
        if current:
            ids.add(current)
    return ids


def _settle_target(job):
    """A VM left in a passing state by the interrupted job turns Error (its host is checked at its next
    start or stop)."""
    from apps.compute.choices import VmState
    from apps.compute.models import VmInstance

    passing = [VmState.STARTING, VmState.STOPPING, VmState.REBOOTING, VmState.DESTROYING]
    if job.target_type_id and job.target_type.model_class() is VmInstance:
        VmInstance.objects.filter(pk=job.target_id, state__in=passing).update(state=VmState.ERROR)


def _fail(job, message):
    now = timezone.now()
    steps = [dict(s) for s in job.steps]
    for step in steps:
        if step.get("state") == "running":
            step.update(state="failed", error=message, finished=now.isoformat())
    updated = Job.objects.filter(pk=job.pk, state=job.state).update(
        state=JobState.FAILED, error=message, steps=steps, finished=now)
    if updated:
        job.state, job.error, job.steps, job.finished = JobState.FAILED, message, steps, now
        _settle_target(job)
        notify_job(job)
    return bool(updated)


def resolve_interrupted_jobs(connection=None):
    """Fail every Job that no worker runs or will run; the Jobs resolved."""
    import django_rq
    from rq.job import Job as RqJob

    connection = connection or django_rq.get_connection("default")
    running_now = _jobs_on_live_workers(connection)
    resolved = []
    for job in Job.objects.filter(state=JobState.RUNNING).exclude(handler="").select_related("target_type"):
        if str(job.uuid) in running_now:
            continue
        step = next((s["name"] for s in job.steps if s.get("state") == "running"), "")
        if _fail(job, INTERRUPTED.format(where=f' (step "{step}")' if step else "")):
            resolved.append(job)
    # A Job queued in the last minute may still be on its way to Redis (enqueued after its commit).
    settled = timezone.now() - datetime.timedelta(seconds=QUEUED_GRACE)
    queued = Job.objects.filter(state=JobState.QUEUED, created__lt=settled).exclude(handler="")
    for job in queued.select_related("target_type"):
        if not RqJob.exists(str(job.uuid), connection=connection) and _fail(job, LOST):
            resolved.append(job)
    for job in resolved:
        log.warning("job %s (%s %s) resolved: %s", job.uuid, job.kind, job.target_name, job.error)
    return resolved
