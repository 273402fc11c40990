"""Running the host preparation playbook (workers/ansible/host.yml) from a job, task by task.

ansible-runner drives ansible-playbook over OpenSSH with the host's password (sshpass) and
checks the host key against the one stored on the Host (a private known_hosts file, strict).
A sandbox host is reached through a proxy command that connects inside its namespace. Each
task is a job step, shown running as soon as Ansible starts it (an apt run takes minutes on a
fresh host); a task skipped on a sandbox host becomes a skipped step. A failed task's step and
the job say what the host printed (its stderr), not only Ansible's summary.
"""

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import ansible_runner
import yaml
from django.conf import settings

from apps.core.exceptions import JobFailed

from . import sandbox

PLAYBOOK = Path(settings.BASE_DIR) / "workers" / "ansible" / "host.yml"
AGENT_PACKAGE = Path(settings.BASE_DIR) / "workers" / "host"
# The job's progress while the playbook runs: from when SSH login worked to when the agent is awaited.
PROGRESS_START, PROGRESS_END = 20, 70
SANDBOX_SKIP = "does not apply to a sandbox host: it shares the management node's packages, kernel and files"


def _inventory(host, known_hosts):
    alias = f"nimbo-{host.uuid}"
    ssh_args = [
        f"-o UserKnownHostsFile={known_hosts}",
        "-o StrictHostKeyChecking=yes",
        f"-o HostKeyAlias={alias}",
        "-o PubkeyAuthentication=no",
        "-o ControlMaster=auto -o ControlPersist=30s",
    ]
    if host.netns:
        proxy = f"ip netns exec {host.netns} {shutil.which('socat') or 'socat'} - TCP:%h:%p"
        ssh_args.append(f"-o ProxyCommand={shlex.quote(proxy)}")
    return {
        "all": {
            "hosts": {
                "target": {
                    "ansible_host": host.management_ip,
                    "ansible_port": host.ssh_port,
                    "ansible_user": host.username,
                    "ansible_password": host.password,
                    "ansible_python_interpreter": "/usr/bin/python3",
                    "ansible_ssh_common_args": " ".join(ssh_args),
                }
            }
        }
    }


def _extravars(host, redis_url, heartbeat):
    extra = {
        "nimbo_host_uuid": str(host.uuid),
        "nimbo_redis_url": redis_url,
        "nimbo_code_dir": str(settings.BASE_DIR),
        "nimbo_heartbeat": heartbeat,
        "nimbo_sandbox": bool(host.netns),
    }
    if host.netns:
        extra.update(
            nimbo_state_dir=str(sandbox.machine_dir(host.netns)),
            nimbo_agent_python=sys.executable,
            nimbo_sandbox_phys=sandbox.phys_netns(),
            nimbo_mount_ns=f"/proc/{os.getpid()}/ns/mnt",
            nimbo_machine_netns=f"/proc/{os.getpid()}/ns/net",
        )
    return extra


def stage_agent(dest):
    """Copy the agent's source files (no __pycache__, no editor leftovers) to `dest`, laid out as on the
    host: dest/workers/__init__.py, dest/workers/host/*.py and its requirements.txt. The module names."""
    package = dest / "workers" / "host"
    package.mkdir(parents=True)
    (dest / "workers" / "__init__.py").write_text("")
    shipped = sorted(p.name for p in AGENT_PACKAGE.glob("*.py"))
    for name in [*shipped, "requirements.txt"]:
        shutil.copyfile(AGENT_PACKAGE / name, package / name)
    return shipped


def pack_agent(workdir):
    """The agent as one tar archive (deterministic: same sources, same bytes) and its version (sha256)."""
    staged = workdir / "agent"
    stage_agent(staged)
    archive = workdir / "agent.tar"
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(staged.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(staged)))
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
            info.mode = 0o755 if path.is_dir() else 0o644
            if path.is_dir():
                tar.addfile(info)
            else:
                with path.open("rb") as f:
                    tar.addfile(info, f)
    return archive, hashlib.sha256(archive.read_bytes()).hexdigest()


def _text(value):
    if isinstance(value, list):
        value = "\n".join(str(line) for line in value)
    return value.strip() if isinstance(value, str) else ""


def _failure_detail(res):
    """What the host said about a failure: Ansible's message, and the last lines of the stderr it captured."""
    failed_items = [item for item in res.get("results") or [] if isinstance(item, dict) and item.get("failed")]
    if failed_items:  # a loop: the first failed item's own message
        res = failed_items[0]
    msg = _text(res.get("msg"))
    stderr = next((_text(res.get(key)) for key in ("stderr", "module_stderr") if _text(res.get(key))), "")
    if not stderr and not msg:
        stderr = _text(res.get("stdout")) or _text(res.get("module_stdout"))
    tail = " / ".join(line.strip() for line in stderr.splitlines()[-3:] if line.strip())
    msg = msg.splitlines()[0] if msg else ""
    if msg and tail and tail not in msg:
        text = f"{msg}: {tail}"
    else:
        text = msg or tail
    return text[:600]


def _failure_message(task, res):
    detail = _failure_detail(res)
    return f"Ansible task '{task}' failed: {detail}" if detail else f"Ansible task '{task}' failed."


def _task_count():
    plays = yaml.safe_load(PLAYBOOK.read_text())
    return sum(len(play.get("tasks") or []) for play in plays)


class _TaskSteps:
    """Ansible's events as job steps: a step opens when a task starts and closes with its outcome."""

    def __init__(self, ctx, host):
        self.ctx = ctx
        self.host = host
        self.total = max(1, _task_count())
        self.finished = 0
        self.current = None
        self.failure = None

    def _close(self, state, **details):
        if self.current is not None:
            self.finished += 1
            progress = PROGRESS_START + (PROGRESS_END - PROGRESS_START) * min(self.finished, self.total) // self.total
            self.ctx.end_step(self.current, state, progress=progress, **details)
            self.current = None

    def __call__(self, event):
        data = event.get("event_data", {})
        task = data.get("task", "")
        kind = event.get("event")
        if kind == "playbook_on_task_start":
            self._close("done")  # not expected: every task ends with its own event first
            self.current = self.ctx.begin_step(task)
        elif kind == "runner_on_ok" or (kind == "runner_on_failed" and data.get("ignore_errors")):
            self._close("done")
        elif kind == "runner_on_skipped":
            self._close("skipped", reason=SANDBOX_SKIP if self.host.netns else "not needed on this host")
        elif kind == "runner_on_failed":
            message = _failure_message(task, data.get("res", {}))
            self.failure = self.failure or message
            self._close("failed", error=message)
        elif kind == "runner_on_unreachable":
            message = f"Ansible cannot reach the host: {_failure_detail(data.get('res', {}))}".strip()
            self.failure = self.failure or message
            self._close("failed", error=message)
        return False

    def end(self, status):
        """The run is over: a step still open (the run was cut short) failed."""
        if self.current is not None:
            self._close("failed", error=self.failure or f"The playbook ended with {status}.")


def run_playbook(ctx, host, *, redis_url, heartbeat=5):
    """Run the playbook against `host`; each task is a job step. Raises JobFailed on a failed task."""
    workdir = Path(tempfile.mkdtemp(prefix="nimbo-ansible-"))
    steps = _TaskSteps(ctx, host)
    known_hosts = workdir / "known_hosts"
    known_hosts.write_text(f"nimbo-{host.uuid} {host.host_key}\n")
    extravars = _extravars(host, redis_url, heartbeat)
    if not host.netns:
        archive, version = pack_agent(workdir)
        extravars.update(nimbo_agent_archive=str(archive), nimbo_agent_version=version)
    try:
        result = ansible_runner.run(
            private_data_dir=str(workdir),
            playbook=str(PLAYBOOK),
            inventory=_inventory(host, known_hosts),
            extravars=extravars,
            envvars={
                "PATH": f"{Path(sys.executable).parent}:/usr/sbin:/usr/bin:/sbin:/bin",
                "ANSIBLE_PIPELINING": "True",
                "ANSIBLE_HOST_KEY_CHECKING": "True",
                "ANSIBLE_LOCAL_TEMP": str(workdir / "tmp"),
                "ANSIBLE_REMOTE_TEMP": "/tmp/.nimbo-ansible",
                "ANSIBLE_SSH_CONTROL_PATH_DIR": str(workdir / "cp"),
                "ANSIBLE_NOCOLOR": "True",
            },
            event_handler=steps,
            quiet=True,
            settings={"suppress_ansible_output": True},
        )
        steps.end(result.status)
        if result.status != "successful" or result.rc != 0:
            raise JobFailed(steps.failure or f"The host preparation playbook ended with {result.status}.")
    finally:
        _close_masters(workdir / "cp")
        shutil.rmtree(workdir, ignore_errors=True)


def _close_masters(control_dir):
    """Ansible keeps an SSH master connection open for a while: close it now, leave nothing running."""
    if not control_dir.is_dir():
        return
    for sock in control_dir.iterdir():
        subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "nimbo-host"],
                       capture_output=True, timeout=10, check=False)
