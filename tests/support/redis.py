"""A private redis-server for one test session, on a unix socket in a temporary directory."""

import atexit
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.support.workers import stop_process


def start_private_redis():
    workdir = Path(tempfile.mkdtemp(prefix="nimbo-test-redis-"))
    sock = workdir / "redis.sock"
    proc = subprocess.Popen(
        ["redis-server", "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700", "--save", "",
         "--appendonly", "no", "--dir", str(workdir), "--logfile", str(workdir / "redis.log")],
        start_new_session=True,
    )

    def stop():
        stop_process(proc, timeout=5)
        shutil.rmtree(workdir, ignore_errors=True)

    atexit.register(stop)
    url = f"unix://{sock}"
    for _ in range(200):
        try:
            if redis.Redis.from_url(url).ping():
                return url
        except redis.RedisError:
            time.sleep(0.025)
    stop()
    raise RuntimeError("the test redis-server did not start")
