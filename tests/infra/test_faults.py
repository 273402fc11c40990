"""Faults the cloud keeps its promises through: the host agent killed in the middle of a call, Redis
restarted under a running agent, libvirtd gone. Each ends in a clear failure or a repaired state, never a
call or a job waiting for ever."""

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest
from django.conf import settings

from apps.infra.agent import call_host, wait_for_heartbeat
from apps.infra.ssh import HostUnreachable
from tests.support.factories import make_host
from tests.support.workers import stop_process
from workers.host import domains, links


def _agent(host_uuid, redis_url):
    return subprocess.Popen([sys.executable, "-m", "workers.host.agent", "--host-uuid", str(host_uuid),
                             "--redis-url", redis_url, "--heartbeat", "1", "--workers", "2"],
                            cwd=settings.BASE_DIR, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def _stop(proc):
    stop_process(proc, timeout=20)


@pytest.mark.django_db
def test_a_call_whose_agent_is_killed_fails_at_once_and_the_restarted_agent_serves(db):
    host = make_host()
    agent = _agent(host.uuid, settings.REDIS_URL)
    try:
        assert wait_for_heartbeat(host.uuid, timeout=30)
        outcome = {}

        def long_call():  # a VM start that takes a while, say
            started = time.monotonic()
            try:
                call_host(host, "agent.ping", {"hold": 120}, timeout=180)
            except HostUnreachable as exc:
                outcome["error"] = exc.message
            outcome["seconds"] = time.monotonic() - started

        caller = threading.Thread(target=long_call)
        caller.start()
        time.sleep(1.5)
        os.killpg(agent.pid, signal.SIGKILL)  # the agent and its workers, as a crash or a reboot would
        agent.wait()
        caller.join(60)
        assert outcome["error"] == ("Host HOST1 stopped answering while it ran agent.ping: its agent is gone (no "
                                    "heartbeat). What the operation did so far is repaired when the host is back.")
        assert outcome["seconds"] < 20  # the heartbeat's lifetime (3 s here), not the call's 180 s timeout
    finally:
        _stop(agent)
    agent = _agent(host.uuid, settings.REDIS_URL)
    try:
        assert wait_for_heartbeat(host.uuid, timeout=30)
        assert call_host(host, "agent.ping", timeout=30)["pid"]
    finally:
        _stop(agent)


def test_an_agent_serves_again_once_redis_is_back(tmp_path):
    """Redis restarted (its data kept, as the private Redis keeps it): the agent reconnects by itself."""
    import redis
    from rq import Queue

    sock = os.path.join(tempfile.mkdtemp(prefix="nimbo-fault-redis-"), "redis.sock")
    url = f"unix://{sock}"

    def start_redis():
        proc = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", sock, "--save", "",
                                 "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(sock):
                return proc
            time.sleep(0.05)
        return proc

    def ping(connection, timeout):
        job = Queue(f"host-{host_uuid}", connection=connection).enqueue_call(
            "workers.host.agent.dispatch", args=("agent.ping", {}), result_ttl=60)
        result = job.latest_result(timeout=timeout)
        return result.return_value["result"]["pid"] if result else None

    host_uuid = "5a5d0c3e-0000-4000-8000-000000000001"
    server = start_redis()
    agent = _agent(host_uuid, url)
    try:
        connection = redis.Redis.from_url(url)
        assert ping(connection, 30)
        server.terminate()
        server.wait()
        time.sleep(2)  # the agent's workers and heartbeat see Redis gone
        server = start_redis()
        connection = redis.Redis.from_url(url)
        started = time.monotonic()
        answer = None
        while answer is None and time.monotonic() - started < 30:
            answer = ping(connection, 2)
        assert answer, "the agent did not come back to Redis"
        assert agent.poll() is None
    finally:
        _stop(agent)
        server.terminate()
        server.wait()


@pytest.mark.root
def test_libvirtd_gone_is_started_again_at_the_next_call(session_libvirt):
    """libvirtd crashed (nothing restarts it here): the next libvirt call of the host starts it again."""
    if set(domains.started_daemons()) & session_libvirt:
        pytest.skip("libvirtd ran before these tests: it is not theirs to stop")
    started = domains.ensure_libvirtd()
    if domains.connection().listAllDomains(1):
        pytest.skip("guests run on this libvirtd: it is not this test's to kill")
    try:
        version = domains.connection().getLibVersion()
        libvirtd = domains.started_daemons()[-1]
        os.kill(libvirtd, signal.SIGKILL)
        assert not links.pid_alive(libvirtd) or time.sleep(0.5) or not links.pid_alive(libvirtd)
        assert domains.check_libvirt()["version"]
        assert domains.connection().getLibVersion() == version
        assert domains.started_daemons()[-1] != libvirtd
    finally:
        domains.stop_daemons(domains.started_daemons() or started)
