"""The management node restarted while jobs ran: on start, every job no live worker runs is resolved."""

import datetime
import io
import subprocess

import pytest
from django.core.management import call_command
from django.utils import timezone
from rq import Worker

from apps.core.jobs import start_job
from apps.core.models import Job
from apps.core.recovery import LOST
from tests.support.factories import make_vm

pytestmark = pytest.mark.django_db(transaction=True)


def _running(kind, target=None, step="Start the guest on HOST1"):
    """A Job as a worker leaves it when it is killed in the middle of `step`."""
    job = start_job(kind, "tests.support.handlers.count_to", target=target)
    Job.objects.filter(pk=job.pk).update(state="running", started=timezone.now(), steps=[
        {"name": "Choose a host", "state": "done"}, {"name": step, "state": "running"}])
    return job


def _worker(queue, job, pid):
    """A worker registered in Redis as running `job` (as RQ records it), with process `pid`."""
    from rq.executions import prepare_execution

    worker = Worker([queue], connection=queue.connection)
    worker.register_birth()
    prepare_execution(worker, queue.enqueue_call("tests.support.handlers.count_to", job_id=str(job.pk)))
    queue.connection.hset(worker.key, "pid", pid)
    return worker


def test_jobs_interrupted_by_a_restart_end_failed_with_the_reason(rq_queue):
    vm = make_vm(state="Starting")
    killed = _running("startVmInstance", target=vm)
    served = _running("countTo")  # a worker of another management node still runs it
    lost = start_job("countTo", "tests.support.handlers.count_to")
    rq_queue.fetch_job(str(lost.pk)).delete()  # Redis lost it before any worker took it
    Job.objects.filter(pk=lost.pk).update(created=timezone.now() - datetime.timedelta(minutes=5))
    waiting = start_job("countTo", "tests.support.handlers.count_to")  # still in its queue: a worker runs it
    Job.objects.filter(pk=waiting.pk).update(created=timezone.now() - datetime.timedelta(minutes=5))
    dead = subprocess.Popen(["true"])
    dead.wait()
    workers = [_worker(rq_queue, killed, dead.pid), _worker(rq_queue, served, subprocess.os.getpid())]
    try:
        out = io.StringIO()
        call_command("resolve_interrupted_jobs", stdout=out)
    finally:
        for worker in workers:
            worker.register_death()
    killed.refresh_from_db()
    assert killed.state == "failed" and killed.finished
    assert killed.error == ('Interrupted: the management node stopped while this job ran (step "Start the guest on '
                            'HOST1"). Nothing more happens for it; run it again.')
    assert [s["state"] for s in killed.steps] == ["done", "failed"]
    vm.refresh_from_db()
    assert vm.state == "Error"
    assert Job.objects.get(pk=lost.pk).error == LOST
    assert Job.objects.get(pk=served.pk).state == "running"
    assert Job.objects.get(pk=waiting.pk).state == "queued"
    assert out.getvalue().count("\n") == 2
