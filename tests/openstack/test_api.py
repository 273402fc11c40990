"""Keystone v3 and Neutron v2.0 at /openstack/, by HTTP: token issue and checks, Neutron's shapes,
filters and errors, and the same projects and roles as Nimbo's own API."""

import json

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from apps.projects.models import Membership, Project, Role
from apps.secgroups import services
from apps.secgroups.models import SecurityGroup

ID = "/openstack/identity/v3"
NET = "/openstack/network/v2.0"


def password_auth(username, password, project="demo"):
    body = {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"name": username, "domain": {"name": "Default"}, "password": password}}}}}
    if project:
        body["auth"]["scope"] = {"project": {"name": project, "domain": {"name": "Default"}}}
    return body


@pytest.fixture
def demo(db):
    return Project.objects.create(name="demo")


def member(name, project, role=Role.MEMBER):
    user = get_user_model().objects.create_user(name, f"{name}@example.org", f"{name}-Secret-7")
    Membership.objects.create(user=user, project=project, role=role, is_default=True)
    return user


def token_of(client, name, project="demo"):
    response = client.post(f"{ID}/auth/tokens", password_auth(name, f"{name}-Secret-7", project),
                           content_type="application/json")
    assert response.status_code == 201, response.content
    return response["X-Subject-Token"]


def neutron(client, token, method, path, body=None):
    call = getattr(client, method)
    kwargs = {"content_type": "application/json", "data": body} if body is not None else {}
    return call(f"{NET}{path}", HTTP_X_AUTH_TOKEN=token, **kwargs)


def test_version_documents(client):
    v3 = client.get(ID).json()["version"]
    assert v3["id"].startswith("v3.") and v3["links"][0]["href"] == "http://testserver/openstack/identity/v3/"
    assert client.get("/openstack/identity/").status_code == 300
    versions = client.get("/openstack/network/").json()["versions"]
    assert versions[0]["id"] == "v2.0" and versions[0]["links"][0]["href"].endswith("/openstack/network/v2.0/")


def test_password_token_scoped_to_the_project_with_a_network_endpoint(client, demo):
    bob = member("bob", demo)
    response = client.post(f"{ID}/auth/tokens", password_auth("bob", "bob-Secret-7"), content_type="application/json")
    assert response.status_code == 201 and response["X-Subject-Token"]
    token = response.json()["token"]
    assert token["user"]["name"] == "bob" and token["project"] == {"id": str(demo.pk), "name": "demo",
                                                                    "domain": {"id": "default", "name": "Default"}}
    assert [r["name"] for r in token["roles"]] == ["member"] and token["expires_at"].endswith("Z")
    network = next(s for s in token["catalog"] if s["type"] == "network")
    assert {e["url"] for e in network["endpoints"]} == {"http://testserver/openstack/network"}
    # The token method takes a Nimbo API token (scripts) or a Keystone token (rescoping).
    api_key = Token.objects.get(user=bob).key
    for secret in (api_key, response["X-Subject-Token"]):
        again = client.post(f"{ID}/auth/tokens", {"auth": {"identity": {"methods": ["token"], "token": {
            "id": secret}}}}, content_type="application/json")
        assert again.status_code == 201 and again.json()["token"]["project"]["name"] == "demo"


def test_unknown_paths_answer_in_each_services_shape(client, demo):
    member("bob", demo)
    networks = neutron(client, token_of(client, "bob"), "get", "/networks")
    assert networks.status_code == 404 and networks.json()["NeutronError"]["type"] == "HTTPNotFound"
    users = client.get(f"{ID}/users")
    assert users.status_code == 404 and users.json()["error"]["code"] == 404


def test_sign_in_is_throttled_like_every_login(client, demo, settings):
    settings.NIMBO_LOGIN_MAX_PER_USER = 2
    member("bob", demo)
    for _ in range(2):
        assert client.post(f"{ID}/auth/tokens", password_auth("bob", "nope"),
                           content_type="application/json").status_code == 401
    right = client.post(f"{ID}/auth/tokens", password_auth("bob", "bob-Secret-7"), content_type="application/json")
    assert right.status_code == 429 and int(right["Retry-After"]) > 0


def test_refused_sign_ins(client, demo):
    member("bob", demo)
    other = Project.objects.create(name="other")
    wrong = client.post(f"{ID}/auth/tokens", password_auth("bob", "nope"), content_type="application/json")
    assert wrong.status_code == 401 and "X-Subject-Token" not in wrong
    assert wrong.json()["error"]["code"] == 401
    foreign = client.post(f"{ID}/auth/tokens", password_auth("bob", "bob-Secret-7", project=other.name),
                          content_type="application/json")
    assert foreign.status_code == 401 and "not found" in foreign.json()["error"]["message"]
    bad = client.post(f"{ID}/auth/tokens", {"auth": {}}, content_type="application/json")
    assert bad.status_code == 400
    odd_id = client.post(f"{ID}/auth/tokens", {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"id": "\u00b2", "password": "x"}}}}}, content_type="application/json")
    assert odd_id.status_code == 400 and odd_id.json()["error"]["code"] == 400
    # Misshapen bodies are refused in Keystone's shape, never a 500.
    secret = {"user": {"name": "bob", "password": "bob-Secret-7"}}
    for identity, scope, status in (({"methods": ["token"], "token": "abc"}, None, 401),
                                    ({"methods": ["token"], "token": ["abc"]}, None, 401),
                                    ({"methods": ["password"], "password": secret}, {"project": "demo"}, 401),
                                    ({"methods": ["password"], "password": {"user": {"name": {"a": 1},
                                                                                      "password": "x"}}}, None, 400),
                                    ({"methods": ["password"], "password": {"user": {"name": ["bob"],
                                                                                      "password": "x"}}}, None, 400)):
        body = {"auth": {"identity": identity, **({"scope": scope} if scope else {})}}
        refused = client.post(f"{ID}/auth/tokens", body, content_type="application/json")
        assert refused.status_code == status and refused.json()["error"]["code"] == status, (body, refused.content)


def test_a_token_stops_working_when_its_api_token_is_revoked_or_it_expires(client, demo, settings):
    bob = member("bob", demo)
    token = token_of(client, "bob")
    assert neutron(client, token, "get", "/security-groups").status_code == 200
    assert neutron(client, "forged", "get", "/security-groups").status_code == 401
    assert client.get(f"{NET}/security-groups").status_code == 401
    Token.objects.filter(user=bob).delete()
    assert neutron(client, token, "get", "/security-groups").status_code == 401
    token = token_of(client, "bob")
    settings.NIMBO_OPENSTACK_TOKEN_TTL = -1
    assert neutron(client, token, "get", "/security-groups").status_code == 401


def test_neutron_shapes_filters_and_errors(client, demo):
    bob = member("bob", demo)
    token = token_of(client, "bob")
    created = neutron(client, token, "post", "/security-groups", {"security_group": {"name": "web"}})
    assert created.status_code == 201
    group = created.json()["security_group"]
    assert group["project_id"] == str(demo.pk) and len(group["security_group_rules"]) == 2
    assert SecurityGroup.objects.get(pk=group["id"]).project == demo
    other = services.create_security_group(user=bob, name="db", project=demo)

    names = [g["name"] for g in neutron(client, token, "get", "/security-groups?name=web").json()["security_groups"]]
    assert names == ["web"]
    only = neutron(client, token, "get", "/security-groups?fields=id&fields=name").json()["security_groups"]
    assert only == [{"id": str(other.pk), "name": "db"}, {"id": group["id"], "name": "web"}]
    unknown = neutron(client, token, "get", "/security-groups?colour=red")
    assert unknown.status_code == 400 and unknown.json()["NeutronError"]["type"] == "HTTPBadRequest"
    missing = neutron(client, token, "get", "/security-groups/not-a-uuid")
    assert missing.status_code == 404
    assert missing.json() == {"NeutronError": {"type": "SecurityGroupNotFound", "detail": "",
                                               "message": "Security group not-a-uuid does not exist"}}
    # A show takes `fields` and ignores list filters, as Neutron does (not a 500 when they do not match).
    shown = neutron(client, token, "get", f"/security-groups/{group['id']}?name=other&fields=id&fields=name")
    assert shown.status_code == 200 and shown.json() == {"security_group": {"id": group["id"], "name": "web"}}

    rule = {"security_group_id": group["id"], "protocol": "udp", "port_range_min": 53, "port_range_max": 53,
            "remote_group_id": str(other.pk)}
    first = neutron(client, token, "post", "/security-group-rules", {"security_group_rule": rule})
    assert first.status_code == 201
    stored = first.json()["security_group_rule"]
    assert (stored["direction"], stored["ethertype"], stored["protocol"]) == ("ingress", "IPv4", "udp")
    assert stored["remote_group_id"] == str(other.pk) and stored["remote_ip_prefix"] is None
    again = neutron(client, token, "post", "/security-group-rules", {"security_group_rule": rule})
    assert again.status_code == 409 and again.json()["NeutronError"]["type"] == "SecurityGroupRuleExists"
    bad = neutron(client, token, "post", "/security-group-rules", {"security_group_rule": {
        **rule, "remote_group_id": None, "protocol": "tcp", "port_range_min": 90, "port_range_max": 80}})
    assert bad.status_code == 400
    assert bad.json()["NeutronError"]["type"] == "InvalidInput"
    assert "port_range_min" in bad.json()["NeutronError"]["message"]
    # JSON's Infinity is no port: a 400 naming the field, not a 500.
    body = json.dumps({"security_group_rule": {"security_group_id": group["id"], "protocol": "tcp",
                                               "port_range_min": float("inf")}})
    assert "Infinity" in body
    infinite = client.post(f"{NET}/security-group-rules", body,
                           content_type="application/json", HTTP_X_AUTH_TOKEN=token)
    assert infinite.status_code == 400 and "port_range_min" in infinite.json()["NeutronError"]["message"]
    listed = neutron(client, token, "get", f"/security-group-rules?security_group_id={group['id']}&direction=ingress")
    assert [r["id"] for r in listed.json()["security_group_rules"]] == [stored["id"]]
    rule_shown = neutron(client, token, "get", f"/security-group-rules/{stored['id']}?direction=egress&fields=id")
    assert rule_shown.status_code == 200 and rule_shown.json() == {"security_group_rule": {"id": stored["id"]}}

    # The remote group is still used by a rule: Neutron's in-use conflict, nothing deleted.
    in_use = neutron(client, token, "delete", f"/security-groups/{other.pk}")
    assert in_use.status_code == 409 and in_use.json()["NeutronError"]["type"] == "SecurityGroupInUse"
    assert neutron(client, token, "delete", f"/security-group-rules/{stored['id']}").status_code == 204
    assert neutron(client, token, "get", f"/security-group-rules/{stored['id']}").status_code == 404
    assert neutron(client, token, "delete", f"/security-groups/{other.pk}").status_code == 204


def test_projects_and_roles_as_in_nimbo(client, demo):
    owner = member("bob", demo)
    member("rita", demo, role=Role.READER)
    member("eve", Project.objects.create(name="elsewhere"))
    group = services.create_security_group(user=owner, name="web", project=demo)
    eve = token_of(client, "eve", project="elsewhere")
    assert neutron(client, eve, "get", "/security-groups").json() == {"security_groups": []}
    assert neutron(client, eve, "get", "/security-group-rules?colour=red").status_code == 400  # even on no rows
    assert neutron(client, eve, "get", f"/security-groups/{group.pk}").status_code == 404
    assert neutron(client, eve, "post", "/security-group-rules", {"security_group_rule": {
        "security_group_id": str(group.pk), "protocol": "tcp"}}).status_code == 404
    rita = token_of(client, "rita")
    assert neutron(client, rita, "get", f"/security-groups/{group.pk}").status_code == 200
    refused = neutron(client, rita, "delete", f"/security-groups/{group.pk}")
    assert refused.status_code == 403 and refused.json()["NeutronError"]["type"] == "PolicyNotAuthorized"
    assert "reader" in refused.json()["NeutronError"]["message"]
    assert SecurityGroup.objects.filter(pk=group.pk).exists()
