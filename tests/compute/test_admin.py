"""The VM and router pages of the portal: listed with their state, lifecycle actions start jobs."""

import pytest

from apps.core.models import Job
from tests.support.factories import make_ip_range, make_l3, make_vm

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, user):
    client.force_login(user)
    return client


def test_vm_list_shows_state_and_addresses_and_actions_start_jobs(admin_client, rq_queue):
    l3 = make_l3()
    make_ip_range(l3, cidr="198.51.100.0/24")
    vm = make_vm("INNER-VM", l3s=[l3], state="Stopped")
    page = admin_client.get("/compute/vminstance/")
    assert page.status_code == 200 and b"INNER-VM" in page.content and b"Stopped" in page.content
    assert vm.nics.get().ip.encode() in page.content
    response = admin_client.post("/compute/vminstance/", {"action": "start", "_selected_action": [str(vm.pk)]})
    assert response.status_code == 302
    job = Job.objects.get(kind="startVmInstance")
    assert (job.state, job.target_id, job.params) == ("queued", str(vm.pk), {"vm": str(vm.pk)})
    detail = admin_client.get(f"/compute/vminstance/{vm.pk}/change/")
    assert detail.status_code == 200 and b"No console output yet." in detail.content


def test_router_list_renders(admin_client):
    assert admin_client.get("/vrouter/virtualrouter/").status_code == 200
