"""The host agent as a process: its workers run calls side by side, and neither a call past its
timeout nor a crashed worker takes the agent down; stopping it leaves no worker behind.

The agent here serves only `agent.ping`, which touches nothing on the machine.
"""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
from django.conf import settings
from rq import Queue, Worker

from apps.infra.agent import HostOperationFailed, call_queue, redis_connection, wait_for_heartbeat
from apps.infra.ssh import HostUnreachable
from tests.support.workers import stop_process

WORKERS = 2


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait(predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


class Agent:
    def __init__(self):
        self.host_uuid = str(uuid.uuid4())
        self.queue = f"host-{self.host_uuid}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "workers.host.agent", "--host-uuid", self.host_uuid, "--redis-url",
             settings.REDIS_URL, "--heartbeat", "1", "--workers", str(WORKERS)],
            cwd=settings.BASE_DIR, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def call(self, hold=0.0, timeout=10):
        return call_queue(self.queue, "agent.ping", {"hold": hold}, timeout=timeout)["pid"]

    def workers(self):
        return children(self.proc.pid)

    def busy_worker(self):
        """The pid of the pool worker running a call now, if any."""
        for worker in Worker.all(queue=Queue(self.queue, connection=redis_connection())):
            if worker.get_current_job_id():
                return worker.pid
        return None

    def stop(self):
        stop_process(self.proc, timeout=20)


@pytest.fixture
def agent():
    agent = Agent()
    try:
        assert wait_for_heartbeat(agent.host_uuid, timeout=30), "the agent did not start"
        assert wait(lambda: len(agent.workers()) == WORKERS)
        yield agent
    finally:
        workers = agent.workers()
        agent.stop()
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_quick_call_is_answered_while_a_long_one_runs(agent):
    long_call = {}
    thread = threading.Thread(target=lambda: long_call.update(pid=agent.call(hold=3)))
    thread.start()
    try:
        busy = wait(agent.busy_worker)
        assert busy in agent.workers()
        quick = agent.call()
        assert thread.is_alive(), "the quick call waited for the long one"
        assert quick != busy and quick in agent.workers()
    finally:
        thread.join()
    assert long_call["pid"] == busy


def test_a_call_past_its_timeout_fails_and_the_agent_goes_on(agent):
    with pytest.raises((HostUnreachable, HostOperationFailed)):
        agent.call(hold=30, timeout=2)
    # The worker that ran it is free again (or replaced): every worker answers.
    answered = set()
    assert wait(lambda: answered.add(agent.call()) or len(answered) == WORKERS, timeout=30), answered
    assert agent.proc.poll() is None


def test_a_crashed_worker_is_replaced(agent):
    failed = []

    def doomed():
        try:
            agent.call(hold=30, timeout=3)
        except (HostUnreachable, HostOperationFailed) as exc:
            failed.append(exc)

    thread = threading.Thread(target=doomed)
    thread.start()
    busy = wait(agent.busy_worker)
    os.kill(busy, signal.SIGKILL)
    thread.join()
    assert failed, "a call whose worker died cannot have an answer"
    assert wait(lambda: len(agent.workers()) == WORKERS and busy not in agent.workers())
    answered = set()
    assert wait(lambda: answered.add(agent.call()) or len(answered) == WORKERS, timeout=30), answered
    assert busy not in answered


def test_stopping_the_agent_ends_its_workers_and_its_heartbeat(agent):
    from apps.infra.agent import last_heartbeat

    workers = agent.workers()
    agent.stop()
    assert agent.proc.returncode is not None
    assert not [pid for pid in workers if alive(pid)]
    assert last_heartbeat(agent.host_uuid) is None


def test_workers_of_a_killed_agent_end_with_it(agent):
    workers = agent.workers()
    os.kill(agent.proc.pid, signal.SIGKILL)
    agent.proc.wait()
    assert wait(lambda: not [pid for pid in workers if alive(pid)], timeout=10)


def _blocked_signals(pid, tid):
    with open(f"/proc/{pid}/task/{tid}/status") as f:
        mask = int(next(line for line in f if line.startswith("SigBlk:")).split()[1], 16)
    return {sig for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM) if mask & (1 << (sig - 1))}


def test_only_the_main_thread_of_each_agent_process_takes_stop_signals(agent):
    """A stop signal taken by a helper thread leaves the main thread asleep in its blocking dequeue:
    systemd's SIGTERM then waited for minutes. Every helper thread blocks them; the main threads do not."""
    processes = [agent.proc.pid, *agent.workers()]
    # Each worker has its command-channel listener running, the parent its heartbeat thread.
    assert wait(lambda: all(len(os.listdir(f"/proc/{pid}/task")) > 1 for pid in processes))
    for pid in processes:
        # The main thread blocks them for the instant it starts a helper thread (the new thread inherits
        # that mask; a signal sent meanwhile stays pending and is taken right after): it must settle unblocked.
        assert wait(lambda pid=pid: not _blocked_signals(pid, pid)), \
            f"main thread of {pid} blocks {_blocked_signals(pid, pid)}"
        for tid in map(int, os.listdir(f"/proc/{pid}/task")):
            if tid != pid:
                blocked = _blocked_signals(pid, tid)
                assert blocked == {signal.SIGTERM, signal.SIGINT, signal.SIGALRM}, f"thread {tid} of {pid}"


def test_sigterm_to_every_process_stops_the_agent_at_once(agent):
    """systemd's stop sends SIGTERM to every process of the service (the pool's parent and its workers)."""
    workers = agent.workers()
    started = time.monotonic()
    os.killpg(agent.proc.pid, signal.SIGTERM)
    agent.proc.wait(timeout=20)
    assert wait(lambda: not [pid for pid in workers if alive(pid)], timeout=10)
    assert time.monotonic() - started < 5
