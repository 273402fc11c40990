"""Quotas per project: ZStack's defaults, changed by the admin, checked in the creating transaction."""

import sqlite3
import tempfile
from pathlib import Path

import pytest
from django.db import connection

from apps.projects import quotas
from apps.projects.models import Project
from apps.secgroups.models import SecurityGroup
from tests.support.workers import database_env, run_together

pytestmark = pytest.mark.django_db


def test_a_project_starts_with_zstacks_defaults(world, client_for):
    response = client_for("member").get(f"/api/v1/projects/{world['a'].uuid}/quotas/")
    assert response.status_code == 200
    got = {q["name"]: (q["limit"], q["used"]) for q in response.json()}
    assert got == {"vm.num": (20, 1), "vm.cpuNum": (80, 1), "vm.memorySize": (80 * 1024**3, 512 * 1024**2),
                   "volume.data.num": (40, 0), "l3.num": (20, 0), "securityGroup.num": (20, 1), "vip.num": (20, 2),
                   "eip.num": (20, 1), "portForwarding.num": (20, 1)}


def test_only_the_admin_changes_a_quota_and_exceeding_it_answers_409_naming_it(world, client_for):
    url = f"/api/v1/projects/{world['a'].uuid}/quotas/"
    assert client_for("member").post(url, {"name": "securityGroup.num", "limit": 99}, format="json").status_code == 403
    assert client_for("other").get(url).status_code == 404
    response = client_for("admin").post(url, {"name": "securityGroup.num", "limit": 2}, format="json")
    assert response.status_code == 200
    member = client_for("member")
    assert member.post("/api/v1/security-groups/", {"name": "SECOND"}, format="json").status_code == 201
    response = member.post("/api/v1/security-groups/", {"name": "THIRD"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "quota_exceeded", "field": "securityGroup.num",
        "message": "Quota securityGroup.num of project PROJECT-A exceeded: limit 2, used 2, this needs 1 more."}
    assert not SecurityGroup.objects.filter(name="THIRD").exists()
    # Project B's quota is its own.
    assert client_for("other").post("/api/v1/security-groups/", {"name": "B2"}, format="json").status_code == 201


def test_a_vm_counts_its_cpus_and_memory(world, client_for):
    from apps.compute.models import InstanceOffering
    from apps.images.models import Image

    client_for("admin").post(f"/api/v1/projects/{world['a'].uuid}/quotas/", {"name": "vm.cpuNum", "limit": 4},
                             format="json")
    big = InstanceOffering.objects.create(name="BIG", cpu_num=4, memory_size=1024**3)
    data = {"name": "VM2", "instance_offering": str(big.uuid), "image": str(Image.objects.get().uuid),
            "l3_networks": [str(world["private"].uuid)], "start": False}
    response = client_for("member").post("/api/v1/vms/", data, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["message"] == (
        "Quota vm.cpuNum of project PROJECT-A exceeded: limit 4, used 1, this needs 4 more.")


@pytest.mark.postgres_sensitive
@pytest.mark.django_db(transaction=True)
def test_thirty_parallel_creates_against_a_quota_of_twenty_make_exactly_twenty():
    """Three processes of ten threads each, released at once (on SQLite, against a file copy of the test database)."""
    project = Project.objects.create(name="BUSY")
    quotas.set_quota(project, "securityGroup.num", 20)
    with tempfile.TemporaryDirectory(prefix="nimbo-quota-") as tmp:
        results = run_together([("tests.projects.quota_worker", project.pk, f"SG{p}", 10) for p in range(3)],
                               database_env(tmp), timeout=120)
        if connection.vendor == "sqlite":  # the workers wrote to a copy: read it back
            copy = sqlite3.connect(Path(tmp) / "nimbo.sqlite3")
            created = copy.execute(f"SELECT COUNT(*) FROM {SecurityGroup._meta.db_table} WHERE project_id = ?",
                                   (project.pk.hex,)).fetchone()[0]
            copy.close()
        else:
            created = SecurityGroup.objects.filter(project=project).count()
    outcomes = [o for r in results for o in r["outcomes"]]
    assert sorted(outcomes) == ["created"] * 20 + ["refused"] * 10
    assert created == 20
