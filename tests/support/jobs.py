"""Running queued jobs in tests, for real: a burst SimpleWorker against the test Redis."""

import threading

import django_rq
from rq import SimpleWorker
from rq.timeouts import TimerDeathPenalty


class TestWorker(SimpleWorker):
    """A SimpleWorker that can also run outside the main thread (async tests call it in a thread)."""

    death_penalty_class = TimerDeathPenalty  # SIGALRM works only in the main thread

    def _install_signal_handlers(self):
        if threading.current_thread() is threading.main_thread():
            super()._install_signal_handlers()


def run_worker(*queue_names):
    """Work every job queued on the named queues (default: "default") in this process, then return."""
    queues = [django_rq.get_queue(name) for name in (queue_names or ("default",))]
    TestWorker(queues, connection=queues[0].connection).work(burst=True)
