"""The playbook's events as job steps: each task is shown running when Ansible starts it, and a failed
task says what the host printed. (The real playbook runs in test_host_add.py and test_container_host.py.)"""

import pytest

from apps.core.models import Job
from apps.infra import ansible
from tests.support.factories import make_host
from workers.jobs.runner import JobContext

pytestmark = pytest.mark.django_db

SYSCTL = "Apply the kernel settings (forwarding, bridged traffic through iptables)"


def test_a_failed_task_shows_the_hosts_stderr_not_only_ansibles_summary():
    res = {"msg": "non-zero return code", "rc": 255, "stdout": "",
           "stderr": 'sysctl: permission denied on key "net.ipv4.ip_forward"'}
    assert ansible._failure_message(SYSCTL, res) == (
        f"Ansible task '{SYSCTL}' failed: non-zero return code: "
        'sysctl: permission denied on key "net.ipv4.ip_forward"')
    # A module that could not even start: its message is the reason.
    res = {"msg": "Failed to import the required Python library (packaging) on h's Python /usr/bin/python3."}
    assert ansible._failure_message("Install", res).endswith("(packaging) on h's Python /usr/bin/python3.")
    # A loop: the failed item's own output.
    res = {"msg": "One or more items failed", "results": [{"failed": False}, {"failed": True, "msg": "boom",
                                                                              "stderr": "line1\nthe reason"}]}
    assert ansible._failure_message("Copy", res) == "Ansible task 'Copy' failed: boom: line1 / the reason"
    assert ansible._failure_message("Copy", {}) == "Ansible task 'Copy' failed."


def _job():
    return Job.objects.create(kind="addHost", state="running")


def _steps(job):
    return [(s["name"], s["state"]) for s in Job.objects.get(pk=job.pk).steps]


def test_each_task_is_a_step_shown_running_while_it_runs():
    job, host = _job(), make_host()
    events = ansible._TaskSteps(JobContext(job), host)

    def event(kind, task, **data):
        events({"event": kind, "event_data": {"task": task, **data}})

    event("playbook_on_task_start", "Install the packages for guests, bridges and the firewall")
    # Stored at once: a page reading the job during a long apt run sees what runs.
    assert _steps(job) == [("Install the packages for guests, bridges and the firewall", "running")]
    event("runner_on_ok", "Install the packages for guests, bridges and the firewall")
    event("playbook_on_task_start", "Check the packages for guests, bridges and the firewall")
    event("runner_on_skipped", "Check the packages for guests, bridges and the firewall")
    event("playbook_on_task_start", SYSCTL)
    assert _steps(job)[-1] == (SYSCTL, "running")
    event("runner_on_failed", SYSCTL, res={"msg": "non-zero return code", "stderr": "sysctl: permission denied"})
    events.end("failed")
    stored = Job.objects.get(pk=job.pk)
    assert _steps(job) == [("Install the packages for guests, bridges and the firewall", "done"),
                           ("Check the packages for guests, bridges and the firewall", "skipped"),
                           (SYSCTL, "failed")]
    assert stored.steps[-1]["error"] == (
        f"Ansible task '{SYSCTL}' failed: non-zero return code: sysctl: permission denied")
    assert stored.steps[1]["reason"] == "not needed on this host"
    assert events.failure == stored.steps[-1]["error"]
    assert ansible.PROGRESS_START < stored.progress < ansible.PROGRESS_END


def test_a_run_cut_short_fails_the_step_it_was_in():
    job = _job()
    events = ansible._TaskSteps(JobContext(job), make_host())
    events({"event": "playbook_on_task_start", "event_data": {"task": "Install the host agent's libraries"}})
    events.end("timeout")
    step = Job.objects.get(pk=job.pk).steps[-1]
    assert (step["state"], step["error"]) == ("failed", "The playbook ended with timeout.")


def test_the_agent_is_shipped_without_bytecode_caches(tmp_path):
    (ansible.AGENT_PACKAGE / "__pycache__").mkdir(exist_ok=True)  # as after any test run from the checkout
    shipped = ansible.stage_agent(tmp_path / "agent")
    files = sorted(str(p.relative_to(tmp_path / "agent")) for p in (tmp_path / "agent").rglob("*"))
    assert "__pycache__" not in " ".join(files) and not [f for f in files if f.endswith(".pyc")]
    assert "workers/host/requirements.txt" in files and "workers/__init__.py" in files
    assert {"agent.py", "ops.py", "storage.py", "sftp.py"} <= set(shipped)
    assert files == sorted(["workers", "workers/__init__.py", "workers/host", "workers/host/requirements.txt",
                            *(f"workers/host/{name}" for name in shipped)])


def test_the_agent_archive_is_the_same_for_the_same_sources(tmp_path):
    import tarfile

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, version = ansible.pack_agent(tmp_path / "a")
    second, again = ansible.pack_agent(tmp_path / "b")
    assert version == again and first.read_bytes() == second.read_bytes()
    with tarfile.open(first) as tar:
        names = tar.getnames()
    assert "workers/host/agent.py" in names and "workers/host/requirements.txt" in names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
