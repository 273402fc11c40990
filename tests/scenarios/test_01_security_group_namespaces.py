"""Scenario 01's security group steps (12-19) through the API, with namespace guests on a sandbox
host: real sshd, real pings, an SSH session cut when its rule goes (shared/scenarios/01)."""

import pytest

from tests.support.sglab import session_echo
from tests.support.sgscene import sandbox_scene

pytestmark = [pytest.mark.root, pytest.mark.django_db(transaction=True)]


def test_scenario_01_security_group(api, jobs_inline):
    with sandbox_scene() as scene:
        inner = scene.vm("INNER-VM", "198.51.100.230")
        outer = scene.vm("OUTER-VM", "198.51.100.231", sshd=False)

        # 12. SECURITY-GROUP-1: Ingress TCP 22-22, allowed CIDR empty (0.0.0.0/0); attached to FLAT-L3.
        group = api.post("/api/v1/security-groups/", {"name": "SECURITY-GROUP-1"}, format="json").json()
        base = f"/api/v1/security-groups/{group['uuid']}"
        rule = {"type": "Ingress", "protocol": "TCP", "start_port": 22, "end_port": 22, "allowed_cidr": ""}
        created = api.post(f"{base}/rules/", rule, format="json")
        assert created.status_code == 201 and created.json()["allowed_cidr"] == ""
        assert api.post(f"{base}/l3-networks/", {"l3_network": str(scene.l3.uuid)}, format="json").status_code == 200
        # 14. INNER-VM's NIC joins the group; OUTER-VM is in none.
        assert api.post(f"{base}/nics/", {"nics": [str(inner.nic.pk)]}, format="json").status_code == 200

        # 16. Ping fails, SSH succeeds and lands on INNER-VM.
        assert not outer.ping(inner)
        landed = outer.ssh(inner)
        assert landed.returncode == 0 and "198.51.100.230/24" in landed.stdout
        session = outer.open_session(inner)
        try:
            assert session_echo(session, "before", timeout=8)
            # 17-18. The rule is deleted: SSH fails, and the open session stops working.
            assert api.delete(f"/api/v1/security-group-rules/{created.json()['uuid']}/").status_code == 204
            assert not session_echo(session, "after")
        finally:
            session.kill()
            session.wait()
        assert outer.ssh(inner).returncode != 0

        # 19. The rule back: SSH works again. The NIC leaves the group: everything is allowed.
        assert api.post(f"{base}/rules/", rule, format="json").status_code == 201
        assert outer.ssh(inner).returncode == 0
        assert not outer.ping(inner)
        assert api.post(f"{base}/nics/remove/", {"nics": [str(inner.nic.pk)]}, format="json").status_code == 200
        assert outer.ping(inner)
        assert inner.ping(outer), "OUTER-VM, in no group, is never filtered"
        saved = scene.lab.hrun("iptables-save").stdout
        assert "nimbo-i-" not in saved, "a NIC in no group has no chains"
