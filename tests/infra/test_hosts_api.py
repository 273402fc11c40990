"""Hosts through the API: adding answers 202 with the job; credentials are write-only and encrypted."""

import pytest

from apps.core.models import Job
from apps.infra.models import Host
from tests.support.api import error
from tests.support.factories import make_cluster, make_host, make_zone
from tests.support.resources import ResourceAPITests

pytestmark = pytest.mark.django_db


class TestHostAPI(ResourceAPITests):
    url = "/api/v1/hosts/"
    model = Host
    create_kind, update_kind = "addHost", "updateHost"  # deleting is a job of its own (below)
    create_answers_job = True
    create_expected = {"name": "HOST1", "cluster_name": "CLUSTER1", "hypervisor_type": "KVM", "status": "Connecting",
                       "username": "root", "ssh_port": 22}
    update_data = {"name": "HOST-A", "description": "rack 4"}
    frozen_fields = {"management_ip": ("198.51.100.99", "Management IP cannot be changed."),
                     "cluster": (lambda self: str(make_cluster(make_zone(name="ZONE2")).uuid),
                                 "Cluster cannot be changed.")}
    duplicate_error = {"code": "duplicate", "message": "Host with this Management IP already exists.",
                       "field": "management_ip"}
    list_queries = 4  # session, user, count, page

    @pytest.fixture(autouse=True)
    def _queue(self, rq_queue):
        """Jobs stay queued: nothing connects to the made-up addresses."""

    def create_data(self):
        return {"name": "HOST1", "cluster": str(make_cluster().uuid), "management_ip": "198.51.100.11",
                "password": "s3cret-Pw"}

    def make(self, i):
        if not hasattr(self, "_cluster"):
            self._cluster = make_cluster()
        return make_host(cluster=self._cluster, name=f"H{i}", management_ip=f"198.51.100.{i + 10}")


def test_added_host_keeps_its_password_encrypted_and_never_shows_it(api, rq_queue):
    cluster = make_cluster()
    response = api.post("/api/v1/hosts/", {"name": "HOST1", "cluster": str(cluster.uuid),
                                           "management_ip": "198.51.100.11", "password": "s3cret-Pw"}, format="json")
    assert response.status_code == 202, response.content
    host = Host.objects.get()
    assert host.password == "s3cret-Pw" and "s3cret" not in host.encrypted_password
    body = api.get(f"/api/v1/hosts/{host.uuid}/").json()
    assert "password" not in body and "encrypted_password" not in body


@pytest.mark.parametrize(
    "payload, status, field, message",
    [
        ({"password": ""}, 400, "password", "This field may not be blank."),
        ({"password": None}, 400, "password", "This field may not be null."),
        ({"management_ip": "300.1.1.1"}, 400, "management_ip", "Enter a valid IPv4 address."),
        ({"ssh_port": 0}, 400, "ssh_port", "Ensure this value is greater than or equal to 1."),
        ({"ssh_port": 70000}, 400, "ssh_port", "Ensure this value is less than or equal to 65535."),
    ],
)
def test_add_host_validation(api, rq_queue, payload, status, field, message):
    cluster = make_cluster()
    data = {"name": "HOST1", "cluster": str(cluster.uuid), "management_ip": "198.51.100.11", "password": "pw-1234",
            **payload}
    err = error(api.post("/api/v1/hosts/", data, format="json"), status)
    assert (err["field"], err["message"]) == (field, message)
    assert not Host.objects.exists() and not Job.objects.filter(kind="addHost").exists()


def test_password_is_required_to_add(api, rq_queue):
    cluster = make_cluster()
    data = {"name": "HOST1", "cluster": str(cluster.uuid), "management_ip": "198.51.100.11"}
    assert error(api.post("/api/v1/hosts/", data, format="json"), 400) == {
        "code": "required", "message": "This field is required.", "field": "password"}


def test_update_password(api):
    host = make_host()
    assert api.patch(f"/api/v1/hosts/{host.uuid}/", {"password": "new-Pw-1"}, format="json").status_code == 200
    host.refresh_from_db()
    assert host.password == "new-Pw-1"


def test_reconnect_answers_202(api, rq_queue):
    host = make_host(status="Disconnected")
    response = api.post(f"/api/v1/hosts/{host.uuid}/reconnect/", {"accept_new_host_key": True}, format="json")
    assert response.status_code == 202
    job = Job.objects.get(kind="reconnectHost")
    assert job.params == {"host_uuid": str(host.uuid), "accept_new_host_key": True}
    assert response.json()["job"]["uuid"] == str(job.uuid)


def test_delete_host_forgets_it_and_says_when_its_agent_could_not_be_stopped(
        api, jobs_inline, django_capture_on_commit_callbacks):
    host = make_host(management_ip="127.0.0.1", ssh_port=1)  # nothing listens: the host is unreachable
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(f"/api/v1/hosts/{host.uuid}/")
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["job"]["uuid"])
    assert (job.kind, job.state) == ("deleteHost", "succeeded"), job.error
    assert not Host.objects.exists()
    stop = job.steps[-1]
    assert stop["name"] == "Stop and disable the host agent (nimbo-agent.service) on 127.0.0.1"
    assert stop["state"] == "skipped"
    assert stop["reason"] == job.result["warning"] == (
        "The agent on HOST1 (127.0.0.1) was not stopped: Connection refused by 127.0.0.1:1: is sshd running on "
        "that port? Stop it on the host with: systemctl disable --now nimbo-agent.service")


def test_delete_host_in_use_is_refused_at_once(api, rq_queue):
    from tests.support.factories import make_vm

    host = make_host()
    make_vm(host=host, zone=host.cluster.zone)
    err = error(api.delete(f"/api/v1/hosts/{host.uuid}/"), 409)
    assert "VM1" in err["message"], err
    assert Host.objects.filter(pk=host.pk).exists() and not Job.objects.filter(kind="deleteHost").exists()


def test_admin_add_host_starts_the_job(client, user, rq_queue):
    cluster = make_cluster()
    client.force_login(user)
    response = client.post("/infra/host/add/", {"name": "HOST1", "cluster": str(cluster.uuid),
                                                "management_ip": "198.51.100.12", "ssh_port": 22,
                                                "username": "root", "password": "pw-Admin-1", "state": "Enabled"})
    assert response.status_code == 302, response.content
    host = Host.objects.get()
    assert host.password == "pw-Admin-1"
    assert Job.objects.get(kind="addHost").target_id == str(host.uuid)


def test_a_real_host_needs_a_redis_its_agent_can_reach(api, jobs_inline, monkeypatch,
                                                       django_capture_on_commit_callbacks):
    monkeypatch.delenv("NIMBO_AGENT_REDIS_URL", raising=False)
    cluster = make_cluster()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/hosts/", {"name": "HOST1", "cluster": str(cluster.uuid),
                                               "management_ip": "127.0.0.1", "password": "pw-1234"}, format="json")
    job = Job.objects.get(pk=response.json()["job"]["uuid"])
    assert job.state == "failed"
    assert job.error.startswith("The agent on 127.0.0.1 cannot reach this Redis (unix://")
    assert job.error.endswith(
        "set NIMBO_AGENT_REDIS_URL to an address the host reaches, e.g. redis://mgmt.example.org:6379/0.")
    assert not Host.objects.exists()
