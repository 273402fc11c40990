"""A sandbox host rebooted (its namespace and every process gone) comes back with its guest; `make run`
stops and the sandbox keeps running and it says so; sandbox_down stops it; the next `make run`
(sandbox_up) takes the hosts back."""

import io

import pytest
from django.core.management import call_command

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


def test_a_rebooted_sandbox_host_comes_back_and_sandbox_down_then_make_run_take_it_back(api, jobs_inline, sandboxes,
                                                                                        settings, rq_queue):
    setup = cloud(api, sandboxes)
    vm = VmInstance.objects.select_related("host__cluster").get(pk=create_vm(api, setup, "VM1", "vm1")["uuid"])
    assert vm.state == "Running" and _guest_runs(vm)
    host = Host.objects.select_related("cluster").get()
    listed = io.StringIO()
    call_command("sandbox_down", "--list", stdout=listed)
    assert "1 sandbox host(s) (HOST1): 1 agent(s) and their sshd" in listed.getvalue()
    assert "1 guest(s)" in listed.getvalue()
    assert bring_back() == []  # its agent runs: nothing to do

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

    out = io.StringIO()
    call_command("sandbox_down", stdout=out)
    assert out.getvalue().startswith("Sandbox taken down: 1 host(s), 1 virtual router(s), 1 running guest(s)")
    assert not sandbox.netns_exists(host.netns) and not sandbox.netns_exists(sandbox.phys_netns())
    assert not _guest_runs(vm)
    host.refresh_from_db()
    vm.refresh_from_db()
    assert (host.status, host.status_message, vm.state) == ("Disconnected", TAKEN_DOWN, "Stopped")
    assert not [line for line in running() if "sandbox host" in line or "guest" in line]

    # The next make run queues its reconnect (which runs as above).
    settings.NIMBO_JOBS_INLINE = False
    call_command("sandbox_up", stdout=io.StringIO())
    job = Job.objects.get(kind="reconnectHost", state="queued")
    assert rq_queue.fetch_job(str(job.pk)) is not None
