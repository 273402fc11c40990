"""The host agent killed in the middle of a VM start: the job fails with the reason, the VM starts once
the host is back. A sandbox host rebooted (its namespace and every process gone) comes back with its guest; `make run`
stops and the sandbox keeps running and it says so; sandbox_down stops it; the next `make run`
(sandbox_up) takes the hosts back."""

import io
import os
import signal
import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection

from apps.compute.guest_specs import guest_spec
from apps.compute.models import VmInstance
from apps.core.models import Job
from apps.infra import sandbox
from apps.infra.models import Host
from apps.infra.sandbox_life import TAKEN_DOWN, bring_back, running
from apps.vrouter.models import VirtualRouter
from apps.vrouter.routers import router_spec
from tests.support.scenario01 import cloud, create_vm
from workers.host import guests, links, router

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.root, pytest.mark.slow]


def _guest_runs(vm):
    spec = guest_spec(vm, vm.host)
    return links.netns_exists(spec["name"]) and bool(links.pids_in_netns(spec["name"]))


def test_agent_killed_mid_start_host_rebooted_then_sandbox_down_and_make_run_all_converge(
        api, jobs_inline, sandboxes, settings, rq_queue, monkeypatch):
    monkeypatch.setenv("NIMBO_AGENT_HEARTBEAT", "1")  # the agent's silence is noticed in seconds
    setup = cloud(api, sandboxes)
    vm = VmInstance.objects.select_related("host__cluster").get(pk=create_vm(api, setup, "VM1", "vm1")["uuid"])
    assert vm.state == "Running" and _guest_runs(vm)
    host = Host.objects.select_related("cluster").get()
    listed = io.StringIO()
    call_command("sandbox_down", "--list", stdout=listed)
    assert "1 sandbox host(s) (HOST1): 1 agent(s) and their sshd" in listed.getvalue()
    assert "1 guest(s)" in listed.getvalue()
    assert bring_back() == []  # its agent runs: nothing to do

    # VM2's start is waiting on the host's agent when the agent dies (frozen first, so the start is
    # surely in the middle): its job fails with the reason instead of running for ever.
    vm2 = VmInstance.objects.get(pk=create_vm(api, setup, "VM2", "vm2", start=False)["uuid"])
    agent = sandbox._pid(sandbox.agent_pidfile(host.netns))
    with open(f"/proc/{agent}/task/{agent}/children") as f:
        agent_processes = [agent, *map(int, f.read().split())]  # the agent and its workers
    for pid in agent_processes:
        os.kill(pid, signal.SIGSTOP)
    started = time.monotonic()
    def start_vm2():
        try:
            api.post(f"/api/v1/vms/{vm2.pk}/start/", {}, format="json")
        finally:
            connection.close()

    starting = threading.Thread(target=start_vm2)
    starting.start()
    time.sleep(1)
    for pid in agent_processes:
        os.kill(pid, signal.SIGKILL)
    starting.join(120)
    job = Job.objects.get(kind="startVmInstance", target_id=str(vm2.pk))
    assert job.state == "failed" and "its agent is gone (no heartbeat)" in job.error, job.error
    assert time.monotonic() - started < 60
    vm2.refresh_from_db()
    assert vm2.state == "Error"

    # The host "reboots": its namespace, agent, sshd, guest and router are gone; the database still
    # says VM1 runs there. make run (sandbox_up) reconnects it and the guest comes back.
    vr = VirtualRouter.objects.select_related("host__cluster", "l3_network__l2_network").get()
    guests.destroy(guest_spec(vm, host))
    router.destroy_router(router_spec(vr))
    sandbox.destroy_machine(host.netns)
    assert not _guest_runs(vm)
    jobs = bring_back()
    assert [j.kind for j in jobs] == ["reconnectHost"]
    job = Job.objects.get(pk=jobs[0].pk)
    assert job.state == "succeeded", job.error
    assert "Start the guests that run on this host" in [s["name"] for s in job.steps]
    vm.refresh_from_db()
    assert vm.state == "Running" and _guest_runs(vm)
    # VM2, whose start the dead agent interrupted, starts now that the host is back.
    job = Job.objects.get(pk=api.post(f"/api/v1/vms/{vm2.pk}/start/", {}, format="json").json()["job"]["uuid"])
    assert job.state == "succeeded", job.error
    vm2.refresh_from_db()
    assert vm2.state == "Running" and _guest_runs(vm2)

    out = io.StringIO()
    call_command("sandbox_down", stdout=out)
    assert out.getvalue().startswith("Sandbox taken down: 1 host(s), 1 virtual router(s), 2 running guest(s)")
    assert not sandbox.netns_exists(host.netns) and not sandbox.netns_exists(sandbox.phys_netns())
    assert not _guest_runs(vm) and not _guest_runs(vm2)
    host.refresh_from_db()
    vm.refresh_from_db()
    assert (host.status, host.status_message, vm.state) == ("Disconnected", TAKEN_DOWN, "Stopped")
    assert not [line for line in running() if "sandbox host" in line or "guest" in line]

    # The next make run queues its reconnect (which runs as above).
    settings.NIMBO_JOBS_INLINE = False
    call_command("sandbox_up", stdout=io.StringIO())
    job = Job.objects.get(kind="reconnectHost", state="queued")
    assert rq_queue.fetch_job(str(job.pk)) is not None
