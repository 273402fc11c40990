"""Job handlers and host operations are registered by name: every name resolves, every name the code
uses is registered, and nothing else runs (a Job row or a queued call is data, not a function to find)."""

import importlib
import inspect
import re
from pathlib import Path

import pytest

from apps.core.jobs import JOB_HANDLERS, start_job
from apps.core.models import Job
from workers.host import agent
from workers.jobs.runner import execute

APPS = Path(__file__).resolve().parents[2] / "apps"


def sources():
    return {path: path.read_text() for path in APPS.rglob("*.py")}


def test_every_job_handler_resolves_to_a_function_of_ctx():
    for name in JOB_HANDLERS:
        module, _, func = name.rpartition(".")
        handler = getattr(importlib.import_module(module), func)
        assert next(iter(inspect.signature(handler).parameters)) == "ctx", name


def test_every_job_handler_the_code_starts_is_registered():
    # start_job("kind", "handler", ...) and compute's _job("kind", "handler", ...)
    named = {m for text in sources().values() for m in re.findall(r"\"\w+\",\s*\"(apps\.\w+\.jobs\.\w+)\"", text)}
    assert named == {h for h in JOB_HANDLERS if h.startswith("apps.")}, "every one registered, none registered unused"


@pytest.mark.django_db(transaction=True)  # execute() runs as a worker does: its own connection handling
def test_a_job_naming_an_unregistered_function_is_refused(user, tmp_path):
    with pytest.raises(LookupError, match="os.remove is not a registered job handler"):
        start_job("removeFile", "os.remove", user=user)
    victim = tmp_path / "victim"
    victim.write_text("kept")
    job = Job.objects.create(kind="removeFile", handler="os.remove", params={"path": str(victim)})
    execute(str(job.pk))
    job.refresh_from_db()
    assert (job.state, job.error) == (
        "failed", "Internal error: LookupError: os.remove is not a registered job handler.")
    assert victim.read_text() == "kept"


def test_every_host_operation_resolves():
    operations = agent.load_operations()
    assert {"firewall.apply", "storage.delete_file", "guests.start", "router.ensure_router"} <= set(operations)
    for name, func in operations.items():
        assert callable(func) and agent._resolve(name) is not None, name


def test_every_host_operation_the_management_side_calls_is_registered():
    operations = agent.load_operations()
    called = set()
    for path, text in sources().items():
        called |= set(re.findall(r"call_host\([^,()]+, \"(\w+\.\w+)\"", text))
        called |= set(re.findall(r"\"((?:guests|domains)\.\w+)\"", text))
        called |= {f"firewall.{op}" for op in re.findall(r"deliver\([^,()]+, \"(\w+)\"", text)}
        if path.parent.name in ("storage", "images"):  # apps.storage.agent.call_host(host, "<storage function>")
            called |= {f"storage.{f}" for f in re.findall(r"call_host\([^,()]+, \"(\w+)\"", text)}
    assert len(called) >= 15 and called <= set(operations), called - set(operations)


def test_the_agent_runs_only_registered_operations(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    for name, payload in [("storage.remove_tree", {"path": str(victim)}), ("storage.shutil", {}),
                          ("links.delete_netns", {"name": "x"}), ("storage.is_forbidden_path", {"path": "/"})]:
        assert agent.dispatch(name, payload) == {
            "ok": False, "error": f"This host's agent does not know the operation {name}."}
    assert victim.is_dir()
    assert agent.dispatch("storage.delete_file", {"path": "/proc/version"}) == {
        "ok": False, "error": "/proc/version cannot be deleted."}, "the forbidden-path check is on the one way in"
