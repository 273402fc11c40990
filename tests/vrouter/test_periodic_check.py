"""The periodic router check is scheduled once on the RQ scheduler and each round schedules the next."""

import pytest
from rq.registry import ScheduledJobRegistry

from apps.vrouter.routers import RECONCILE_KEY, reconcile_routers_scheduled, schedule_reconcile


def scheduled(queue):
    registry = ScheduledJobRegistry(queue=queue)
    return [queue.fetch_job(job_id).func_name for job_id in registry.get_job_ids()]


@pytest.mark.django_db
def test_the_check_is_scheduled_once_and_reschedules_itself(rq_queue):
    rq_queue.connection.delete(RECONCILE_KEY)
    schedule_reconcile()
    schedule_reconcile()  # make run starting again, a router booting: still one round waiting
    assert scheduled(rq_queue) == ["apps.vrouter.routers.reconcile_routers_scheduled"]

    registry = ScheduledJobRegistry(queue=rq_queue)
    for job_id in registry.get_job_ids():  # as if the round had started
        registry.remove(job_id, delete_job=True)
    assert reconcile_routers_scheduled() == {}  # no router yet: nothing repaired
    assert scheduled(rq_queue) == ["apps.vrouter.routers.reconcile_routers_scheduled"]
    rq_queue.connection.delete(RECONCILE_KEY)


def test_the_command_schedules_it(rq_queue, db):
    from django.core.management import call_command

    rq_queue.connection.delete(RECONCILE_KEY)
    call_command("reconcile_routers", "--schedule")
    assert scheduled(rq_queue) == ["apps.vrouter.routers.reconcile_routers_scheduled"]
    rq_queue.connection.delete(RECONCILE_KEY)
