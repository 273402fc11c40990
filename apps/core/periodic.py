"""Periodic work on the RQ scheduler: at most one round waiting, and each round schedules the next.

    schedule_once("nimbo:routers:check", "apps.vrouter.routers.reconcile_routers_scheduled", 60)

    def reconcile_routers_scheduled():
        with next_round_after("nimbo:routers:check", schedule_reconcile):
            return check_routers()

A Redis key (set NX, expiring a little after the round is due) marks the waiting round, so `make
run` starting again or many callers asking at once still leave one round in the schedule.
"""

import datetime
from contextlib import contextmanager


def _connection():
    import django_rq

    return django_rq.get_connection("default")


def schedule_once(key, func_path, delay):
    """Enqueue `func_path` to run in `delay` seconds unless a round marked by `key` is already waiting."""
    import django_rq

    if _connection().set(key, "1", nx=True, ex=delay + 30):
        django_rq.get_queue("default").enqueue_in(datetime.timedelta(seconds=delay), func_path)


@contextmanager
def next_round_after(key, schedule):
    """Run the round's body; whatever happens, clear its mark and schedule the next (`schedule()`)."""
    try:
        yield
    finally:
        _connection().delete(key)
        schedule()
