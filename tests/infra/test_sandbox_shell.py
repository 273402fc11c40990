"""manage.py sandbox_shell: a shell in a client namespace on the sandbox physical network."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from apps.infra import sandbox

pytestmark = pytest.mark.root


def shell(*args):
    env = {**os.environ, "NIMBO_VAR_DIR": str(settings.VAR_DIR), "DJANGO_SETTINGS_MODULE": "portal.settings"}
    return subprocess.run([sys.executable, "manage.py", "sandbox_shell", *args], cwd=settings.BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=60)


def test_sandbox_shell_runs_a_command_on_the_flat_network_and_removes_its_namespace(sandbox_phys):
    name = f"t{os.getpid()}"
    try:
        out = shell("--name", name, "-c", "ip -4 -o addr show dev eth0; ip -o link show dev eth0")
        assert out.returncode == 0, out.stderr
        assert "198.51.100.250/24" in out.stdout
        ns = f"nimbo-c-{sandbox.phys_netns()[-6:]}-{name}"
        assert sandbox.netns_exists(ns)
        assert sandbox.run("ip", "-n", sandbox_phys, "-o", "link", "show", "master", sandbox.PHYS_BRIDGE).stdout
    finally:
        removed = shell("--name", name, "--remove")
    assert removed.returncode == 0 and not sandbox.netns_exists(ns)
