"""sandbox_down says Stopped only of guests it stopped: a libvirt guest whose domain could not be destroyed
keeps its state and is named, the rest of the sandbox still goes down."""

import io

import pytest
from django.core.management import call_command

from apps.infra import sandbox
from apps.infra.sandbox_life import TAKEN_DOWN
from tests.support.factories import make_cluster, make_host, make_vm
from workers.host import domains

pytestmark = pytest.mark.django_db


def test_a_libvirt_guest_that_could_not_be_stopped_keeps_its_state_and_is_named(monkeypatch):
    cluster = make_cluster(hypervisor_type="Sandbox")
    host = make_host(cluster=cluster)
    stuck = make_vm("VM1", zone=cluster.zone, host=host)
    gone = make_vm("VM2", zone=cluster.zone, host=host)
    undefined, removed = [], []

    def undefine(name):
        if name == f"nimbo-{stuck.pk}":
            raise RuntimeError("libvirt does not answer")
        undefined.append(name)

    monkeypatch.setattr(domains, "undefine", undefine)
    monkeypatch.setattr(domains, "libvirt_answers", lambda: False)
    monkeypatch.setattr(sandbox, "netns_exists", lambda ns: True)
    monkeypatch.setattr(sandbox, "destroy_machine", removed.append)
    monkeypatch.setattr(sandbox, "destroy_phys", lambda: None)
    out, err = io.StringIO(), io.StringIO()
    call_command("sandbox_down", stdout=out, stderr=err)

    assert undefined == [f"nimbo-{gone.pk}"] and removed == [host.netns]
    assert out.getvalue().startswith("Sandbox taken down: 1 host(s), 0 virtual router(s), 1 running guest(s)")
    assert "VM1: libvirt does not answer" in err.getvalue()
    stuck.refresh_from_db()
    gone.refresh_from_db()
    host.refresh_from_db()
    assert (stuck.state, gone.state) == ("Running", "Stopped")
    assert (host.status, host.status_message) == ("Disconnected", TAKEN_DOWN)
