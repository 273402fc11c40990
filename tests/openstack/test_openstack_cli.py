"""The real `openstack` command (python-openstackclient from PyPI) against a Nimbo started by the test:
it signs in through /openstack/identity/v3 and manages security groups and rules through
/openstack/network/v2.0, and Nimbo's own API sees the same objects."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from apps.projects.models import Membership, Project, Role

OPENSTACK = shutil.which("openstack", path=str(Path(sys.executable).parent)) or shutil.which("openstack")


@pytest.fixture
def bob(transactional_db):
    user = get_user_model().objects.create_user("bob", "bob@example.org", "bob-Secret-7")
    project = Project.objects.create(name="demo")
    Membership.objects.create(user=user, project=project, role=Role.MEMBER, is_default=True)
    return user


@pytest.fixture
def openstack(live_server, bob, tmp_path):
    """Run `openstack --os-cloud nimbo ...`, with a clouds.yaml pointing at the live server; -> (code, out, err)."""
    if OPENSTACK is None:
        pytest.fail("the openstack command is missing: pip install -r requirements.txt")
    (tmp_path / "clouds.yaml").write_text(json.dumps({"clouds": {"nimbo": {
        "auth": {"auth_url": f"{live_server.url}/openstack/identity/v3", "username": "bob",
                 "password": "bob-Secret-7", "project_name": "demo", "user_domain_name": "Default",
                 "project_domain_name": "Default"},
        "identity_api_version": 3, "region_name": "RegionOne", "interface": "public"}}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path), OS_CLIENT_CONFIG_FILE=str(tmp_path / "clouds.yaml"))

    def run(*argv):
        done = subprocess.run([OPENSTACK, "--os-cloud", "nimbo", *argv], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)
        return done.returncode, done.stdout, done.stderr

    return run


def json_of(result):
    code, out, err = result
    assert code == 0, err
    return json.loads(out)


def nimbo_api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_security_groups_and_rules_through_the_openstack_client(openstack, bob):
    group = json_of(openstack("security group", "create", "web", "--description", "web servers", "-f", "json"))
    assert group["name"] == "web" and group["description"] == "web servers"
    project = Project.objects.get(name="demo")
    assert group["project_id"] == str(project.pk)
    seen = nimbo_api(bob).get(f"/api/v1/security-groups/{group['id']}/").json()
    assert seen["name"] == "web" and len(seen["rules"]) == 2  # Nimbo's two default egress rules

    listed = json_of(openstack("security group", "list", "-f", "json"))
    assert [(g["ID"], g["Name"]) for g in listed] == [(group["id"], "web")]
    assert openstack("security group", "set", "web", "--description", "front ends")[0] == 0
    shown = json_of(openstack("security group", "show", "web", "-f", "json"))  # found by name
    assert shown["id"] == group["id"] and shown["description"] == "front ends"

    rule = json_of(openstack("security group", "rule", "create", "web", "--protocol", "tcp", "--dst-port", "8000:8080",
                             "--remote-ip", "10.0.0.0/8", "-f", "json"))
    assert (rule["direction"], rule["ether_type"], rule["protocol"]) == ("ingress", "IPv4", "tcp")
    assert (rule["port_range_min"], rule["port_range_max"], rule["remote_ip_prefix"]) == (8000, 8080, "10.0.0.0/8")
    stored = nimbo_api(bob).get(f"/api/v1/security-group-rules/{rule['id']}/").json()
    assert (stored["protocol"], stored["port_range_min"], stored["port_range_max"]) == ("tcp", 8000, 8080)
    assert stored["security_group_id"] == group["id"]

    icmp = json_of(openstack("security group", "rule", "create", "web", "--protocol", "icmp", "-f", "json"))
    rules = json_of(openstack("security group", "rule", "list", "web", "-f", "json"))
    assert {r["ID"] for r in rules} == {r["id"] for r in nimbo_api(bob).get(
        f"/api/v1/security-group-rules/?security_group_id={group['id']}").json()["results"]}
    assert {rule["id"], icmp["id"]} <= {r["ID"] for r in rules} and len(rules) == 4
    shown_rule = json_of(openstack("security group", "rule", "show", rule["id"], "-f", "json"))
    assert shown_rule["port_range_min"] == 8000 and shown_rule["security_group_id"] == group["id"]

    # The same rule again: Neutron's conflict, shown by the client.
    code, out, err = openstack("security group", "rule", "create", "web", "--protocol", "tcp", "--dst-port",
                               "8000:8080", "--remote-ip", "10.0.0.0/8")
    assert code != 0 and "409" in err and f"Security group rule already exists. Rule id is {rule['id']}" in err
    # A port out of range (the client checks only the order): Nimbo's refusal naming the port, nothing stored.
    code, out, err = openstack("security group", "rule", "create", "web", "--protocol", "tcp", "--dst-port",
                               "80:70000")
    assert code != 0 and "400" in err and "port_range_max: Invalid value for port 70000" in err, err
    # Unknown group: not found.
    code, out, err = openstack("security group", "show", "nothing-here")
    assert code != 0 and "nothing-here" in err
    code, out, err = openstack("security group", "rule", "create", "nothing-here", "--protocol", "tcp")
    assert code != 0 and "nothing-here" in err

    assert openstack("security group", "rule", "delete", rule["id"])[0] == 0
    assert nimbo_api(bob).get(f"/api/v1/security-group-rules/{rule['id']}/").status_code == 404
    assert openstack("security group", "delete", "web")[0] == 0
    assert nimbo_api(bob).get(f"/api/v1/security-groups/{group['id']}/").status_code == 404
    assert json_of(openstack("security group", "list", "-f", "json")) == []


def test_wrong_password_is_refused(openstack, bob, live_server, tmp_path):
    clouds = json.loads((tmp_path / "clouds.yaml").read_text())
    clouds["clouds"]["nimbo"]["auth"]["password"] = "wrong"
    (tmp_path / "clouds.yaml").write_text(json.dumps(clouds))
    code, out, err = openstack("security group", "list")
    assert code != 0 and "401" in err
