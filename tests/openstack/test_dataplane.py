"""A rule made through the Neutron endpoints is enforced on a host like any other: real packets in a
sandbox host's namespaces, synced by the same job."""

import pytest
from django.contrib.auth import get_user_model

from apps.core.models import Job
from apps.projects.models import Membership, Project, Role
from apps.secgroups import services
from apps.secgroups.models import SecurityGroup
from tests.support.jobs import run_worker
from tests.support.sgscene import sandbox_scene

NET = "/openstack/network/v2.0"


@pytest.mark.root
@pytest.mark.django_db(transaction=True)
def test_a_rule_made_with_the_neutron_api_lets_packets_through_and_its_delete_stops_them(client, rq_queue):
    bob = get_user_model().objects.create_user("bob", "bob@example.org", "bob-Secret-7")
    Membership.objects.create(user=bob, project=Project.objects.create(name="demo"), role=Role.MEMBER,
                              is_default=True)
    signin = client.post("/openstack/identity/v3/auth/tokens", {"auth": {"identity": {
        "methods": ["password"], "password": {"user": {"name": "bob", "password": "bob-Secret-7"}}}}},
        content_type="application/json")
    headers = {"HTTP_X_AUTH_TOKEN": signin["X-Subject-Token"]}
    with sandbox_scene() as scene:
        vm = scene.vm("VM", "198.51.100.10", sshd=False)
        peer = scene.vm("PEER", "198.51.100.11", sshd=False)
        made = client.post(f"{NET}/security-groups", {"security_group": {"name": "ping"}},
                           content_type="application/json", **headers).json()["security_group"]
        group = SecurityGroup.objects.get(pk=made["id"])
        services.attach_l3(group, scene.l3)
        services.add_nics(group, [vm.nic])
        run_worker()
        assert not peer.ping(vm), "a new group lets no ingress in"

        rule = client.post(f"{NET}/security-group-rules", {"security_group_rule": {
            "security_group_id": made["id"], "protocol": "icmp", "remote_ip_prefix": "198.51.100.0/24"}},
            content_type="application/json", **headers)
        assert rule.status_code == 201, rule.content
        run_worker()
        assert Job.objects.filter(kind="syncSecurityGroups").exclude(state="succeeded").count() == 0
        assert peer.ping(vm)

        gone = client.delete(f"{NET}/security-group-rules/{rule.json()['security_group_rule']['id']}", **headers)
        assert gone.status_code == 204
        run_worker()
        assert not peer.ping(vm)
