"""The host agent: an RQ worker on the host's own queue `host-<uuid>`, and a heartbeat.

    python -m workers.host.agent --host-uuid <uuid> --redis-url redis://mgmt:6379/0

The management side enqueues `workers.host.agent.dispatch(operation, payload)` on the host's
queue (apps/infra/agent.py: call_host) and waits for the result. The heartbeat is a Redis key
`nimbo:host:<uuid>:heartbeat` holding the time of the last beat, refreshed every few seconds
and expiring on its own if the agent stops; the management node's host monitor reads it.
"""

import argparse
import importlib
import logging
import os
import pkgutil
import threading
import time
import traceback

from .errors import HostError
from .ops import OPERATIONS

log = logging.getLogger("nimbo.agent")
HEARTBEAT_KEY = "nimbo:host:{}:heartbeat"
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
    """A registered operation (called with **payload), or `module.function` of this package taking
    the payload as its one argument (the convention of storage.py, guests.py, router.py)."""
    func = load_operations().get(operation)
    if func is not None:
        return lambda payload: func(**payload)
    module_name, _, name = operation.rpartition(".")
    if module_name and module_name.isidentifier() and not name.startswith("_"):
        try:
            module = importlib.import_module(f"workers.host.{module_name}")
        except ImportError:
            return None
        func = getattr(module, name, None)
        if callable(func) and getattr(func, "__module__", "") == module.__name__:
            return lambda payload: func(payload)
    return None


def dispatch(operation, payload=None):
    """Run one operation; the answer is plain data: {"ok": True, "result": ...} or {"ok": False, "error": ...}."""
    func = _resolve(operation)
    if func is None:
        return {"ok": False, "error": f"This host's agent does not know the operation {operation}."}
    try:
        return {"ok": True, "result": func(payload or {})}
    except HostError as exc:
        return {"ok": False, "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - reported to the caller with its traceback
        log.exception("operation %s failed", operation)
        return {"ok": False, "error": f"{operation} failed on the host: {exc.__class__.__name__}: {exc}",
                "traceback": traceback.format_exc()}


def heartbeat_loop(connection, host_uuid, interval, stop):
    key = HEARTBEAT_KEY.format(host_uuid)
    while not stop.is_set():
        try:
            connection.set(key, f"{time.time():.3f}", ex=max(3, int(interval * 3)))
        except Exception:  # noqa: BLE001 - Redis away for a moment: keep trying
            log.warning("heartbeat failed", exc_info=True)
        stop.wait(interval)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Nimbo host agent")
    parser.add_argument("--host-uuid", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--heartbeat", type=float, default=5.0, help="seconds between heartbeats")
    parser.add_argument("--sandbox-phys", default="", help="sandbox hosts: the physical-network namespace")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s agent: %(message)s")

    import redis
    from rq import Queue, Worker

    os.environ["NIMBO_HOST_UUID"] = args.host_uuid
    if args.sandbox_phys:
        os.environ["NIMBO_SANDBOX_PHYS"] = args.sandbox_phys
    load_operations()
    connection = redis.Redis.from_url(args.redis_url)
    stop = threading.Event()
    beat = threading.Thread(target=heartbeat_loop, args=(connection, args.host_uuid, args.heartbeat, stop),
                            daemon=True)
    beat.start()
    queue = Queue(f"host-{args.host_uuid}", connection=connection)
    worker = Worker([queue], connection=connection, name=f"agent-{args.host_uuid[:8]}-{os.getpid()}")

    log.info("serving %s", queue.name)
    try:
        worker.work(with_scheduler=False, logging_level="WARNING")
    finally:
        # RQ's own SIGTERM handling ends work(): a stopped agent stops beating at once.
        stop.set()
        try:
            connection.delete(HEARTBEAT_KEY.format(args.host_uuid))
        except Exception:  # noqa: BLE001 - Redis gone: the key expires by itself
            pass


if __name__ == "__main__":
    main()
