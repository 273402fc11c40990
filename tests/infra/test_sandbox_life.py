"""`make run` stops; the sandbox hosts keep running and it says so; sandbox_down stops them; the next
`make run` (sandbox_up) takes them back."""

import io

import pytest
from django.core.management import call_command

from apps.core.models import Job
from apps.infra import sandbox, services
from apps.infra.models import Host
from apps.infra.sandbox_life import TAKEN_DOWN, bring_back, running
from tests.support.factories import make_cluster
from tests.support.sandbox import free_ip

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.root]


def test_sandbox_down_then_make_run_takes_the_hosts_back(jobs_inline, user, sandboxes):
    job = services.add_host(user=user, name="HOST1", cluster=make_cluster(hypervisor_type="Sandbox"),
                            management_ip=free_ip(), password="s3cret-Pw")
    job.refresh_from_db()
    assert job.state == "succeeded", job.error
    host = Host.objects.get()
    sandboxes.track(host.netns)
    listed = io.StringIO()
    call_command("sandbox_down", "--list", stdout=listed)
    assert "1 sandbox host(s) (HOST1): 1 agent(s) and their sshd" in listed.getvalue()
    assert bring_back() == []  # its agent runs: nothing to do

    out = io.StringIO()
    call_command("sandbox_down", stdout=out)
    assert out.getvalue().startswith("Sandbox taken down: 1 host(s)")
    assert not sandbox.netns_exists(host.netns) and not sandbox.netns_exists(sandbox.phys_netns())
    host.refresh_from_db()
    assert (host.status, host.status_message) == ("Disconnected", TAKEN_DOWN)
    assert not [line for line in running() if "sandbox host" in line]

    jobs = bring_back()
    assert [j.kind for j in jobs] == ["reconnectHost"]
    job = Job.objects.get(pk=jobs[0].pk)
    assert job.state == "succeeded", job.error
    host.refresh_from_db()
    assert host.status == "Connected" and sandbox.netns_exists(host.netns)
    assert sandbox._pid(sandbox.agent_pidfile(host.netns))
