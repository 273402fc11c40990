"""Host agent round trip: enqueue an operation on a host's queue and get its answer.

The agent serves a scratch network namespace; the operation (network.list_l2) only reads its links,
so the time is the agent's own cost per call: queueing, pickup, running, answering.
"""

import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

CALLS = 100


def start_agent(netns, host_uuid, redis_url, cwd=None, workers=None):
    cmd = ["nsenter", f"--net=/run/netns/{netns}", "--", sys.executable, "-m", "workers.host.agent",
           "--host-uuid", host_uuid, "--redis-url", redis_url]
    if workers:
        cmd += ["--workers", str(workers)]
    return subprocess.Popen(cmd, cwd=cwd or Path(__file__).resolve().parent.parent, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def stop_agent(proc):
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def round_trips(queue_name, calls=CALLS, threads=1):
    """Seconds per call, `calls` calls made by `threads` callers at once; and the wall time of all."""
    from apps.infra.agent import call_queue

    samples = []

    def caller(n):
        for _ in range(n):
            started = time.perf_counter()
            call_queue(queue_name, "network.list_l2", {}, timeout=30)
            samples.append(time.perf_counter() - started)

    started = time.perf_counter()
    workers = [threading.Thread(target=caller, args=(calls // threads,)) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return samples, time.perf_counter() - started


def run():
    from django.conf import settings

    from apps.infra.agent import wait_for_heartbeat

    if os.geteuid() != 0:
        print("   skipped: needs root (namespaces)")
        return
    host_uuid = str(uuid.uuid4())
    netns = f"nimbo-bench-{host_uuid[:8]}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    proc = None
    try:
        proc = start_agent(netns, host_uuid, settings.REDIS_URL)
        if not wait_for_heartbeat(host_uuid, timeout=30):
            raise RuntimeError("the benchmark's agent did not start")
        queue_name = f"host-{host_uuid}"
        round_trips(queue_name, calls=10)  # warm-up: every pool worker has connected
        for threads in (1, 4):
            samples, wall = round_trips(queue_name, threads=threads)
            print(f"   {threads} caller(s): round trip median {statistics.median(samples) * 1000:.1f} ms, "
                  f"p95 {sorted(samples)[int(len(samples) * 0.95)] * 1000:.1f} ms; "
                  f"{len(samples) / wall:.0f} calls/s", flush=True)
    finally:
        if proc is not None:
            stop_agent(proc)
        subprocess.run(["ip", "netns", "delete", netns], check=False)
