"""`make run`: the private Redis, the ASGI web server and the RQ workers under one process.

Ctrl-C (or SIGTERM) stops all of them; if one of them dies, the others are stopped too and the
exit code says so. Running it again is safe: migrations and the admin account are idempotent,
and a Redis left running by an earlier run on the same socket is reused.
"""

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger("nimbo.runner")
BASE = Path(__file__).resolve().parent.parent


def _env():
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    return env


def redis_ping(url):
    import redis

    try:
        return redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


def start_private_redis(var_dir, socket_path):
    """redis-server on a unix socket under var/ (no TCP port), persisting to var/redis.rdb."""
    cmd = [
        "redis-server",
        "--port", "0",
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--dir", str(var_dir),
        "--dbfilename", "redis.rdb",
        "--save", "60 1",
        "--appendonly", "no",
        "--daemonize", "no",
        "--logfile", str(var_dir / "redis.log"),
    ]
    proc = subprocess.Popen(cmd, start_new_session=True)
    url = f"unix://{socket_path}"
    for _ in range(100):
        if redis_ping(url):
            return proc
        if proc.poll() is not None:
            raise SystemExit(f"redis-server exited with {proc.returncode}; see {var_dir / 'redis.log'}")
        time.sleep(0.05)
    proc.terminate()
    raise SystemExit("redis-server did not answer within 5 s")


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s runner: %(message)s")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    sys.path.insert(0, str(BASE))
    from django.conf import settings

    python = sys.executable
    procs = {}
    if settings.NIMBO_PRIVATE_REDIS:
        if redis_ping(settings.REDIS_URL):
            log.info("reusing the private Redis already on %s", settings.REDIS_SOCKET)
        else:
            settings.REDIS_SOCKET.unlink(missing_ok=True)
            procs["redis"] = start_private_redis(settings.VAR_DIR, settings.REDIS_SOCKET)
            log.info("private Redis on %s", settings.REDIS_SOCKET)
    elif not redis_ping(settings.REDIS_URL):
        raise SystemExit(f"REDIS_URL={settings.REDIS_URL} does not answer")

    manage = [python, str(BASE / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput"], check=True, env=_env())
    subprocess.run([*manage, "ensure_admin"], check=True, env=_env())
    # Jobs a stop of the management node interrupted end Failed with the reason (before any worker runs).
    subprocess.run([*manage, "resolve_interrupted_jobs"], check=True, env=_env())
    # The periodic security-group reconcile (drift repair) runs from the first start on.
    subprocess.run([*manage, "reconcile_firewalls", "--schedule"], check=True, env=_env())
    # So does the check of virtual routers (a dead dnsmasq or namespace is rebuilt), quiet unless it repairs.
    subprocess.run([*manage, "reconcile_routers", "--schedule"], check=True, env=_env())
    # Sandbox hosts whose machine or agent is gone (sandbox_down, a reboot) are reconnected by jobs.
    subprocess.run([*manage, "sandbox_up"], check=True, env=_env())

    host = os.environ.get("NIMBO_HOST", "0.0.0.0")
    port = os.environ.get("NIMBO_PORT", "8000")
    procs["web"] = subprocess.Popen(
        [python, "-m", "uvicorn", "portal.asgi:application", "--host", host, "--port", port, "--no-access-log"],
        env=_env(), cwd=BASE, start_new_session=True,
    )
    workers = int(os.environ.get("NIMBO_WORKERS", "2"))
    for index in range(workers):
        args = [*manage, "rqworker", *worker_queues()]
        if index == 0:
            args.append("--with-scheduler")
        procs[f"worker-{index}"] = subprocess.Popen(args, env=_env(), cwd=BASE, start_new_session=True)
    # Heartbeats of the host agents -> host status (each host's agent serves its own queue).
    procs["host-monitor"] = subprocess.Popen([*manage, "host_monitor"], env=_env(), cwd=BASE, start_new_session=True)
    log.info("Nimbo is up: http://localhost:%s/ (Ctrl-C stops it; sandbox hosts keep running)", port)
    code = supervise(procs)
    say_what_stays_up(manage)
    sys.exit(code)


def say_what_stays_up(manage):
    """The sandbox hosts are machines of their own: they keep running after `make run` stops. Say so."""
    try:
        lines = subprocess.run([*manage, "sandbox_down", "--list"], env=_env(), capture_output=True, text=True,
                               timeout=60).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return
    if lines:
        print("Still running (machines of their own, as real hosts would be):", *(f"  - {line}" for line in lines),
              "The next `make run` takes them back. To stop them: .venv/bin/python manage.py sandbox_down",
              sep="\n", flush=True)


def worker_queues():
    """The queues the management node's workers serve (apps may add theirs, e.g. local hosts)."""
    extra = [q for q in os.environ.get("NIMBO_EXTRA_QUEUES", "").split(",") if q]
    return ["default", *extra]


def supervise(procs):
    stopping = {"signal": None}

    def on_signal(signum, _frame):
        stopping["signal"] = signum

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    code = 0
    while stopping["signal"] is None:
        dead = [(name, p.returncode) for name, p in procs.items() if p.poll() is not None]
        if dead:
            name, code = dead[0]
            log.error("%s exited with %s; stopping the others", name, code)
            code = code or 1
            break
        time.sleep(0.5)
    # Web and workers first, Redis last, so workers can finish talking to it.
    order = [n for n in procs if n != "redis"] + (["redis"] if "redis" in procs else [])
    for name in order:
        if procs[name].poll() is None:
            procs[name].send_signal(signal.SIGTERM)
            try:
                procs[name].wait(timeout=15)
            except subprocess.TimeoutExpired:
                procs[name].kill()
    log.info("stopped")
    return code


if __name__ == "__main__":
    main()
