"""The host agent: a few RQ workers on the host's own queue `host-<uuid>`, and a heartbeat.

    python -m workers.host.agent --host-uuid <uuid> --redis-url redis://mgmt:6379/0 [--workers 4]

The management side enqueues `workers.host.agent.dispatch(operation, payload)` on the host's
queue (apps/infra/agent.py: call_host) and waits for the result. The heartbeat is a Redis key
`nimbo:host:<uuid>:heartbeat` holding the time of the last beat, refreshed every few seconds
and expiring on its own if the agent stops; the management node's host monitor reads it.

The queue is served by RQ's WorkerPool of `AgentWorker`s: each worker is a process that runs
operations itself, one at a time, so several operations (VM starts of many jobs at once) run side
by side and none pays for a fork. Every worker process shares the agent's namespaces (network and
mount: guests and routers it creates are visible where the agent runs). A call past its timeout
is interrupted (RQ's SIGALRM death penalty); a worker stuck past that (a call blocked in C code)
is killed by its watchdog and the pool starts another; a crashed worker is replaced the same way.
"""

import argparse
import contextlib
import ctypes
import importlib
import logging
import os
import pkgutil
import signal
import threading
import time
import traceback

from rq import SimpleWorker

from .errors import HostError
from .ops import OPERATIONS

log = logging.getLogger("nimbo.agent")
HEARTBEAT_KEY = "nimbo:host:{}:heartbeat"
PR_SET_PDEATHSIG = 1
DEFAULT_WORKERS = 4
# Signals that must reach the main thread: stop requests (systemd's SIGTERM, the pool's SIGINT) and RQ's
# SIGALRM timeout. Python runs handlers only in the main thread, and only once it wakes up.
MAIN_THREAD_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGALRM}
_loaded = False


def load_operations():
    """Import every module of this package so that their operations are registered."""
    global _loaded
    if not _loaded:
        import workers.host as package

        for module in pkgutil.iter_modules(package.__path__):
            if module.name in ("agent", "__main__"):
                continue
            try:
                importlib.import_module(f"{package.__name__}.{module.name}")
            except ImportError as exc:  # a library this host lacks: only that module's operations are missing
                log.warning("host operations of %s unavailable: %s", module.name, exc)
        _loaded = True
    return OPERATIONS


def _resolve(operation):
    """The registered operation `operation`, called with the payload as keyword arguments; None for
    any other name: a queue reaches nothing of this package that is not registered."""
    func = load_operations().get(operation)
    return (lambda payload: func(**payload)) if func is not None else None


def dispatch(operation, payload=None):
    """Run one operation; the answer is plain data: {"ok": True, "result": ...} or {"ok": False, "error": ...}."""
    func = _resolve(operation)
    if func is None:
        return {"ok": False, "error": f"This host's agent does not know the operation {operation}."}
    try:
        return {"ok": True, "result": func(payload or {})}
    except HostError as exc:
        return {"ok": False, "error": str(exc)}
    except Exception as exc:  # reported to the caller with its traceback
        log.exception("operation %s failed", operation)
        return {"ok": False, "error": f"{operation} failed on the host: {exc.__class__.__name__}: {exc}",
                "traceback": traceback.format_exc()}


class AgentWorker(SimpleWorker):
    """A pool worker that runs each operation in its own process instead of forking a work horse.

    RQ's default Worker forks a horse per job. Measured on a 2-core machine (`python -m benchmarks
    agent`, a trivial operation): a round trip of 24-26 ms and at most 40 calls/s with the forking
    Worker, 8-9 ms and 155-200 calls/s (4 callers) with a pool of these; agent CPU per namespace VM
    (`benchmarks vms`, 100 VMs at once) fell from 114 ms to 60 ms.
    """

    WATCHDOG_GRACE = 30  # seconds past a call's own timeout before its worker is killed and replaced

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _die_with_parent()

    def work(self, *args, **kwargs):
        # The pool asks every worker to run a scheduler; nothing is ever scheduled on a host queue.
        kwargs["with_scheduler"] = False
        return super().work(*args, **kwargs)

    def subscribe(self):
        # RQ listens to its command channel in a thread: keep the stop signals away from it (see
        # _main_thread_signals_only).
        with _main_thread_signals_only():
            super().subscribe()

    def execute_job(self, job, queue):
        timeout = job.timeout if job.timeout and job.timeout > 0 else self.queue_class.DEFAULT_TIMEOUT
        watchdog = threading.Timer(timeout + self.WATCHDOG_GRACE, _kill_stuck_worker, args=(job.id,))
        watchdog.daemon = True
        with _main_thread_signals_only():
            watchdog.start()
        try:
            return super().execute_job(job, queue)
        finally:
            watchdog.cancel()


@contextlib.contextmanager
def _main_thread_signals_only():
    """Threads started inside this block never receive SIGTERM, SIGINT or SIGALRM.

    The kernel hands a signal sent to a process to any one of its threads that does not block it. When
    that is a helper thread (RQ's pubsub listener, a watchdog), the main thread is not woken: an idle
    worker sat in its blocking BLMOVE (up to 405 s) with the stop request pending, and the pool's parent
    waited for it. systemd then waited its 90 s and killed the agent. A new thread inherits the mask of
    the thread that starts it, so helper threads are started with these signals blocked.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, MAIN_THREAD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _kill_stuck_worker(job_id):
    """A call that ignored its timeout (blocked in C code): end this worker; the pool starts another."""
    log.error("operation job %s is stuck past its timeout: replacing this agent worker", job_id)
    os.kill(os.getpid(), signal.SIGKILL)


def _die_with_parent():
    """Pool workers end with the agent's main process, even if it is killed with SIGKILL."""
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the pool's own stop still ends the workers
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def heartbeat_loop(connection, host_uuid, interval, stop):
    key = HEARTBEAT_KEY.format(host_uuid)
    while not stop.is_set():
        try:
            connection.set(key, f"{time.time():.3f}", ex=max(3, int(interval * 3)))
        except Exception:  # Redis away for a moment: keep trying
            log.warning("heartbeat failed", exc_info=True)
        stop.wait(interval)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Nimbo host agent")
    parser.add_argument("--host-uuid", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--heartbeat", type=float, default=5.0, help="seconds between heartbeats")
    parser.add_argument("--sandbox-phys", default="", help="sandbox hosts: the physical-network namespace")
    parser.add_argument("--machine-netns", default="",
                        help="sandbox hosts: the machine's own network namespace (where libvirtd runs)")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                        help="operations run side by side (one process each)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s agent: %(message)s")

    import redis
    from rq.worker_pool import WorkerPool

    os.environ["NIMBO_HOST_UUID"] = args.host_uuid
    if args.sandbox_phys:
        os.environ["NIMBO_SANDBOX_PHYS"] = args.sandbox_phys
    load_operations()
    if args.machine_netns:
        from . import domains

        domains.use_machine_netns(args.machine_netns)
    connection = redis.Redis.from_url(args.redis_url)
    stop = threading.Event()
    beat = threading.Thread(target=heartbeat_loop, args=(connection, args.host_uuid, args.heartbeat, stop),
                            daemon=True)
    with _main_thread_signals_only():
        beat.start()
    queue_name = f"host-{args.host_uuid}"
    pool = WorkerPool([queue_name], connection=connection, num_workers=max(1, args.workers),
                      worker_class=AgentWorker)
    log.info("serving %s with %d workers", queue_name, pool.num_workers)
    try:
        pool.start(burst=False, logging_level="WARNING")
    finally:
        # The pool's own SIGTERM handling stops its workers and ends start(): a stopped agent stops
        # beating at once.
        stop.set()
        try:
            connection.delete(HEARTBEAT_KEY.format(args.host_uuid))
        except Exception:  # noqa: BLE001 - Redis gone: the key expires by itself
            pass


if __name__ == "__main__":
    main()
