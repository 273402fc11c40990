"""Adding a sandbox host through the real path: sshd in the host's namespace, Ansible, the agent."""

import pytest

from apps.core.models import Job
from apps.infra import sandbox, services
from apps.infra.agent import last_heartbeat
from apps.infra.models import Host
from tests.support.factories import make_cluster
from tests.support.sandbox import free_ip

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.root]


@pytest.fixture
def cluster(db):
    return make_cluster(hypervisor_type="Sandbox")


def add(cluster, user, ip, password="s3cret-Pw", name="HOST1", **fields):
    job = services.add_host(user=user, name=name, cluster=cluster, management_ip=ip, password=password, **fields)
    job.refresh_from_db()
    return job


def test_add_sandbox_host_connects_it_with_facts(jobs_inline, cluster, user, sandboxes):
    ip = free_ip()
    job = add(cluster, user, ip)
    assert job.state == "succeeded", (job.error, job.steps)
    host = Host.objects.get()
    sandboxes.track(host.netns)
    assert host.status == "Connected" and host.status_message == ""
    assert host.cpu_num >= 1 and host.memory_size > 0 and host.domain_type in ("kvm", "qemu")
    assert host.facts["os"] and host.host_key.startswith("ssh-ed25519 ")
    assert host.encrypted_password and "s3cret-Pw" not in host.encrypted_password and host.password == "s3cret-Pw"
    names = [s["name"] for s in job.steps]
    assert names[0].startswith("Build the sandbox host") and "Gather facts (CPU, memory, KVM)" in names
    skipped = [s for s in job.steps if s["state"] == "skipped"]
    assert "Install the packages for guests, bridges and the firewall" in [s["name"] for s in skipped]
    assert all("sandbox host" in s["reason"] for s in skipped)
    assert "Check the packages for guests, bridges and the firewall" in names
    assert last_heartbeat(host.uuid)
    # The agent runs inside the host's namespace, and forwarding is on there.
    assert sandbox.run("ip", "netns", "exec", host.netns, "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip() == "1"
    # A connected host's firewall is converged to the database at once (nothing to filter yet).

    assert "Sync the security group firewall" in names
    sync = Job.objects.get(kind="syncSecurityGroups", target_id=str(host.uuid))
    assert sync.state == "succeeded", sync.error

    # Reconnecting is the same job; the known host key is kept and checked.
    again = services.reconnect_host(host, user=user)
    again.refresh_from_db()
    assert again.state == "succeeded", again.error
    host.refresh_from_db()
    assert host.status == "Connected"

    # Deleting it removes the sandbox host's namespace, and its agent with it.
    gone = services.delete_host(host, user=user)
    gone.refresh_from_db()
    assert gone.state == "succeeded", gone.error
    assert not Host.objects.exists() and not sandbox.netns_exists(host.netns)
    assert last_heartbeat(host.uuid) is None


def test_wrong_password_is_refused_clearly(jobs_inline, cluster, user, sandboxes):
    ip = free_ip()
    ns = sandboxes.machine(sandbox.machine_netns(ip), ip, "the-real-one")
    job = add(cluster, user, ip, password="not-it")
    assert job.state == "failed"
    assert job.error == f"Authentication failed for root@{ip}: wrong user name or password."
    assert [s["state"] for s in job.steps][-1] == "failed"
    assert not Host.objects.exists(), "a failed add leaves no host behind"
    assert sandbox.netns_exists(ns), "the machine was there before: it stays"


def test_refused_connection_is_reported_clearly(jobs_inline, cluster, user, sandboxes):
    ip = free_ip()
    ns = sandboxes.machine(sandbox.machine_netns(ip), ip, "s3cret-Pw")
    sandbox.stop_sshd(ns)
    job = add(cluster, user, ip)
    assert job.state == "failed"
    assert job.error == f"Connection refused by {ip}:22: is sshd running on that port?"
    assert not Host.objects.exists()


def test_changed_host_key_is_refused_until_accepted(jobs_inline, cluster, user, sandboxes):
    ip = free_ip()
    job = add(cluster, user, ip)
    assert job.state == "succeeded", job.error
    host = Host.objects.get()
    sandboxes.track(host.netns)
    old_key = host.host_key
    sandbox.regenerate_host_key(host.netns, ip)

    job = services.reconnect_host(host, user=user)
    job.refresh_from_db()
    assert job.state == "failed"
    assert job.error.startswith(f"The SSH host key of {ip} has changed (known SHA256:")
    assert job.error.endswith("If the host was reinstalled, reconnect it accepting the new key.")
    host.refresh_from_db()
    assert host.status == "Disconnected" and host.status_message == job.error and host.host_key == old_key

    job = services.reconnect_host(host, user=user, accept_new_host_key=True)
    job.refresh_from_db()
    assert job.state == "succeeded", job.error
    host.refresh_from_db()
    assert host.status == "Connected" and host.host_key != old_key


def test_stopping_the_agent_disconnects_the_host_and_restarting_reconnects_it(jobs_inline, cluster, user, sandboxes):
    from django.conf import settings

    from apps.infra.agent import wait_for_heartbeat
    from apps.infra.monitor import AGENT_SILENT, check_hosts

    job = add(cluster, user, free_ip())
    assert job.state == "succeeded", job.error
    host = Host.objects.get()
    sandboxes.track(host.netns)
    assert check_hosts() == []
    assert sandbox.stop_agent(host.netns)
    assert check_hosts() == [("HOST1", "Disconnected")]
    host.refresh_from_db()
    assert (host.status, host.status_message) == ("Disconnected", AGENT_SILENT)

    sandbox.start_agent(host.netns, host.uuid, settings.REDIS_URL)
    assert wait_for_heartbeat(host.uuid)
    assert check_hosts() == [("HOST1", "Connected")]
    host.refresh_from_db()
    assert host.status == "Connected" and host.last_heartbeat


def test_a_host_whose_libvirt_does_not_answer_is_not_added(jobs_inline, cluster, user, sandboxes, settings,
                                                         monkeypatch, tmp_path):
    """Nothing runs libvirt on the host and its libvirtd cannot start: the add fails and says why."""
    from workers.host import domains

    broken = tmp_path / "libvirtd"
    broken.write_text("#!/bin/sh\necho 'error: Unable to initialize network sockets' >&2\nexit 1\n")
    broken.chmod(0o755)
    # The host's calls run in this process, so its libvirt can be one that is broken.
    settings.NIMBO_HOST_CALLS_INLINE = True
    monkeypatch.setattr(domains, "LIBVIRT_SOCKET", str(tmp_path / "libvirt-sock"))
    monkeypatch.setattr(domains, "DAEMONS", (("libvirtd", str(broken), str(tmp_path / "libvirtd.pid")),))
    ip = free_ip()
    job = add(cluster, user, ip)
    sandboxes.track(sandbox.machine_netns(ip))
    assert job.state == "failed"
    assert job.error == (f"The host {ip} cannot run guests: libvirt does not answer: libvirtd did not start: "
                         "error: Unable to initialize network sockets")
    assert [s["state"] for s in job.steps][-1] == "failed"
    assert not Host.objects.exists(), "a failed add leaves no host behind"
