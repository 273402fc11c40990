"""Worker processes that race on the test database: started together, each running threads at once.

The test side: `database_env(tmp)` gives the workers the test database, `run_together(commands, env, timeout)`
starts them, waits until each says "ready", releases them all at the same moment and returns the JSON
line each printed last. The worker side: `race(work, threads)` says "ready", waits for the go, runs
`work(index)` on that many threads at once (after a barrier) and returns when they are done.
"""

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def database_env(tmp):
    """Environment for worker processes that reach the test database: a SQLite file copied from the
    test database (in memory), or the PostgreSQL test database."""
    from django.conf import settings
    from django.db import connection

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "NIMBO_VAR_DIR")}
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        target = sqlite3.connect(Path(tmp) / "nimbo.sqlite3")
        connection.ensure_connection()
        connection.connection.backup(target)
        target.execute("PRAGMA journal_mode=WAL")
        target.close()
        env["NIMBO_VAR_DIR"] = tmp
        for name in ("secret_key",):
            src = Path(settings.VAR_DIR) / name
            if src.exists():
                (Path(tmp) / name).write_text(src.read_text())
    else:
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        env["NIMBO_VAR_DIR"] = tmp
        env["DATABASE_URL"] = (f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:"
                               f"{db['PORT'] or 5432}/{db['NAME']}")
    return env


def run_together(commands, env, timeout):
    """Run each `python -m <command...>` as a worker, all released at once; the last JSON line of each."""
    procs = [subprocess.Popen([sys.executable, "-m", *map(str, command)], cwd=ROOT, env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for command in commands]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready", p.stderr.read()
        for p in procs:  # every worker at the same moment
            p.stdin.write("go\n")
            p.stdin.flush()
        results = []
        for p in procs:
            out, err = p.communicate(timeout=timeout)
            assert p.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def stop_process(proc, timeout=10):
    """Stop a process the tests started: SIGTERM, then SIGKILL if it has not ended within `timeout` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def race(work, threads):
    """In a worker: say "ready", wait for the go, then run work(index) on `threads` threads at once."""
    barrier = threading.Barrier(threads)

    def start(index):
        barrier.wait()
        work(index)

    print("ready", flush=True)
    sys.stdin.readline()
    pool = [threading.Thread(target=start, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
