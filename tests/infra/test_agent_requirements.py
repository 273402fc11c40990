"""The host agent's virtualenv (workers/host/requirements.txt, installed by the playbook) holds every
library its operations import: checked by reading every import of workers/host and by loading every
operation in a Python that can import nothing else. A missing library once left real hosts without
their storage operations ("host operations of sftp unavailable: No module named 'paramiko'")."""

import ast
import importlib.metadata as metadata
import json
import re
import subprocess
import sys
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "workers" / "host"
SYSTEM_PACKAGES = {"libvirt", "libvirtmod", "libvirt_qemu", "libvirtmod_qemu"}  # python3-libvirt, from apt


def _requirements(path):
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def _closure(requirements):
    """The distributions these requirements install, with their own dependencies."""
    environment = {**default_environment(), "extra": ""}
    seen, todo = set(), [r.name for r in requirements]
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen.add(key)
        for line in metadata.distribution(name).requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate(environment):
                todo.append(req.name)
    return seen


def _top_level_names(distributions):
    names = set()
    for name in distributions:
        for file in metadata.distribution(name).files or []:
            first = file.parts[0]
            if first.endswith((".dist-info", ".data")) or first in ("..", "__pycache__", "bin"):
                continue
            names.add(first.split(".", 1)[0])
    return names


def _allowed_names():
    return _top_level_names(_closure(_requirements(AGENT / "requirements.txt"))) | SYSTEM_PACKAGES


def test_the_agent_pins_are_those_of_the_portal():
    portal = {r.name.lower(): str(r.specifier) for r in _requirements(ROOT / "requirements.txt")}
    for req in _requirements(AGENT / "requirements.txt"):
        assert portal.get(req.name.lower()) == str(req.specifier), f"{req.name}: agent {req.specifier}, portal {portal}"


def test_every_import_of_the_agent_is_in_its_virtualenv():
    allowed = _allowed_names() | set(sys.stdlib_module_names) | {"workers"}
    missing = set()
    for path in AGENT.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module]
            else:
                continue
            missing |= {f"{path.name}: {name}" for name in names if name.split(".")[0] not in allowed}
    assert not missing, f"imported by the agent but not in workers/host/requirements.txt: {sorted(missing)}"


PROBE = r"""
import importlib.abc, json, logging, sys
allowed = set(json.loads(sys.argv[1])) | set(sys.stdlib_module_names) | {"workers"}

class OnlyTheAgentsLibraries(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] not in allowed:
            raise ModuleNotFoundError(f"No module named {name!r} (not in the agent's virtualenv)", name=name)
        return None

sys.meta_path.insert(0, OnlyTheAgentsLibraries())
warnings = []
class Collect(logging.Handler):
    def emit(self, record):
        warnings.append(record.getMessage())

logging.getLogger("nimbo.agent").addHandler(Collect())
from workers.host.agent import load_operations
print(json.dumps({"operations": sorted(load_operations()), "warnings": warnings}))
"""


def test_every_registered_operation_loads_with_the_agents_libraries_alone():
    from workers.host.agent import load_operations

    everything = sorted(load_operations())
    probe = subprocess.run([sys.executable, "-c", PROBE, json.dumps(sorted(_allowed_names()))], cwd=ROOT,
                           capture_output=True, text=True, timeout=60, check=True)
    loaded = json.loads(probe.stdout)
    assert loaded["warnings"] == []
    assert loaded["operations"] == everything
    # The probe does refuse what is not in the set: without paramiko, the SFTP operations are missing.
    allowed = sorted(_allowed_names() - {"paramiko"})
    probe = subprocess.run([sys.executable, "-c", PROBE, json.dumps(allowed)], cwd=ROOT, capture_output=True,
                           text=True, timeout=60, check=True)
    assert any("paramiko" in warning for warning in json.loads(probe.stdout)["warnings"])
