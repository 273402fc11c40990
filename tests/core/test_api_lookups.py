"""Unknown ids and unknown query parameters: said, never ignored."""

import uuid

import pytest

from apps.secgroups import services
from apps.secgroups.models import SecurityGroup
from tests.support.api import error

pytestmark = pytest.mark.django_db


@pytest.fixture
def groups(user):
    web = services.create_security_group(name="web", user=user)
    db = services.create_security_group(name="db", user=user)
    services.add_rule(web, user=user, direction="ingress", ethertype="IPv4", protocol=6, port_range_min=22,
                      port_range_max=22, remote_ip_prefix="0.0.0.0/0")
    return web, db


def test_an_unknown_id_in_a_body_is_400_not_found_naming_the_field(api, groups):
    web, _ = groups
    missing = str(uuid.uuid4())
    assert error(api.post("/api/v1/security-group-rules/", {"security_group_id": missing}), 400) == {
        "code": "not_found", "field": "security_group_id", "message": f"security_group_id {missing} not found."}
    assert error(api.post("/api/v1/security-group-rules/", {"security_group_id": str(web.uuid),
                                                            "remote_group_id": missing}), 400) == {
        "code": "not_found", "field": "remote_group_id", "message": f"remote_group_id {missing} not found."}
    assert error(api.post(f"/api/v1/security-groups/{web.uuid}/nics/", {"nics": [missing]}), 400) == {
        "code": "not_found", "field": "nics", "message": f"VM NIC {missing} not found."}
    # The same unknown id in the URL is a 404.
    assert error(api.get(f"/api/v1/security-groups/{missing}/"), 404)["code"] == "not_found"


def test_rules_filter_by_neutrons_names_and_unknown_parameters_are_refused(api, groups):
    web, db = groups
    rules = api.get(f"/api/v1/security-group-rules/?security_group_id={db.uuid}").json()
    assert rules["count"] == 2 and {r["security_group_id"] for r in rules["results"]} == {str(db.uuid)}
    assert api.get(f"/api/v1/security-group-rules/?security_group={web.uuid}").json()["count"] == 3
    assert api.get(f"/api/v1/security-group-rules/?remote_group_id={db.uuid}").json()["count"] == 0
    reply = error(api.get(f"/api/v1/security-group-rules/?security_group_uuid={db.uuid}"), 400)
    assert reply["field"] == "security_group_uuid" and reply["code"] == "unknown_parameter"
    assert "security_group_id" in reply["message"]
    assert error(api.get("/api/v1/zones/?nmae=x"), 400)["field"] == "nmae"
    assert api.get("/api/v1/zones/?name=x&limit=5&offset=0&ordering=name&search=z").status_code == 200
    assert error(api.get("/api/v1/zones/?name=a%00b"), 400)["field"] == "name"
    assert SecurityGroup.objects.count() == 2
