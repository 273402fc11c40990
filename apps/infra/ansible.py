"""Running the host preparation playbook (workers/ansible/host.yml) from a job, task by task.

ansible-runner drives ansible-playbook over OpenSSH with the host's password (sshpass) and
checks the host key against the one stored on the Host (a private known_hosts file, strict).
A sandbox host is reached through a proxy command that connects inside its namespace. Each
finished task becomes a job step; a task skipped on a sandbox host becomes a skipped step.
"""

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import ansible_runner
from django.conf import settings

from apps.core.exceptions import JobFailed

from . import sandbox

PLAYBOOK = Path(settings.BASE_DIR) / "workers" / "ansible" / "host.yml"
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
        )
    return extra


def _failure_message(task, res):
    for key in ("msg", "stderr", "module_stderr", "stdout"):
        text = (res.get(key) or "").strip() if isinstance(res.get(key), str) else ""
        if text:
            return f"Ansible task '{task}' failed: {text.splitlines()[-1][:400]}"
    return f"Ansible task '{task}' failed."


def run_playbook(ctx, host, *, redis_url, heartbeat=5):
    """Run the playbook against `host`; each task is a job step. Raises JobFailed on a failed task."""
    workdir = Path(tempfile.mkdtemp(prefix="nimbo-ansible-"))
    failure = {}

    def on_event(event):
        data = event.get("event_data", {})
        task = data.get("task", "")
        kind = event.get("event")
        if kind == "runner_on_ok":
            with ctx.step(task):
                pass
        elif kind == "runner_on_skipped":
            ctx.skip(task, SANDBOX_SKIP if host.netns else "not needed on this host")
        elif kind == "runner_on_failed" and not data.get("ignore_errors"):
            failure.setdefault("message", _failure_message(task, data.get("res", {})))
        elif kind == "runner_on_unreachable":
            failure.setdefault("message", f"Ansible cannot reach the host: {data.get('res', {}).get('msg', '')}".strip())
        return False

    known_hosts = workdir / "known_hosts"
    known_hosts.write_text(f"nimbo-{host.uuid} {host.host_key}\n")
    try:
        result = ansible_runner.run(
            private_data_dir=str(workdir),
            playbook=str(PLAYBOOK),
            inventory=_inventory(host, known_hosts),
            extravars=_extravars(host, redis_url, heartbeat),
            envvars={
                "PATH": f"{Path(sys.executable).parent}:/usr/sbin:/usr/bin:/sbin:/bin",
                "ANSIBLE_PIPELINING": "True",
                "ANSIBLE_HOST_KEY_CHECKING": "True",
                "ANSIBLE_LOCAL_TEMP": str(workdir / "tmp"),
                "ANSIBLE_REMOTE_TEMP": "/tmp/.nimbo-ansible",
                "ANSIBLE_SSH_CONTROL_PATH_DIR": str(workdir / "cp"),
                "ANSIBLE_NOCOLOR": "True",
            },
            event_handler=on_event,
            quiet=True,
            settings={"suppress_ansible_output": True},
        )
        if result.status != "successful" or result.rc != 0:
            raise JobFailed(failure.get("message") or f"The host preparation playbook ended with {result.status}.")
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
