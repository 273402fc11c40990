"""Scenario 04: security groups from the API, with the exact replies (shared/scenarios/04)."""

import pytest

from apps.core.models import Job
from apps.secgroups.models import SecurityGroup, SecurityGroupRule
from tests.support.api import error
from tests.support.factories import make_l3, make_nic, make_vm

pytestmark = pytest.mark.django_db

RULES = "/api/v1/security-group-rules/"


def rule_body(rule):
    return {k: rule[k] for k in ("direction", "ethertype", "protocol", "port_range_min", "port_range_max",
                                 "remote_ip_prefix", "remote_group_id")}


@pytest.fixture
def group(api):
    reply = api.post("/api/v1/security-groups/", {"name": "web", "description": "one group per service"},
                     format="json")
    assert reply.status_code == 201, reply.content
    return reply.json()


def test_scenario_04_create_add_show(api, group):
    # 2. The new group holds the two default egress rules and shows owner, times, revision.
    assert set(group) == {"uuid", "name", "description", "owner", "revision_number", "rules", "l3_networks",
                          "nic_count", "created", "updated"}
    assert (group["name"], group["description"], group["owner"]) == ("web", "one group per service", "alice")
    assert group["revision_number"] == 0 and group["l3_networks"] == [] and group["nic_count"] == 0
    assert [rule_body(r) for r in group["rules"]] == [
        {"direction": "egress", "ethertype": "IPv4", "protocol": None, "port_range_min": None,
         "port_range_max": None, "remote_ip_prefix": None, "remote_group_id": None},
        {"direction": "egress", "ethertype": "IPv6", "protocol": None, "port_range_min": None,
         "port_range_max": None, "remote_ip_prefix": None, "remote_group_id": None},
    ]
    assert all(r["security_group_id"] == group["uuid"] for r in group["rules"])

    # 3. Add tcp 22:22 from 0.0.0.0/0; ingress is the default direction, the ethertype follows the prefix.
    reply = api.post(RULES, {"security_group_id": group["uuid"], "protocol": "tcp", "port_range_min": 22,
                             "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"}, format="json")
    assert reply.status_code == 201, reply.content
    rule = reply.json()
    assert set(rule) == {"id", "security_group_id", "direction", "ethertype", "protocol", "port_range_min",
                         "port_range_max", "remote_ip_prefix", "remote_group_id", "description", "created",
                         "updated"}
    assert rule_body(rule) == {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22,
                               "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0", "remote_group_id": None}
    assert rule["security_group_id"] == group["uuid"]

    # 4. Show: three rules, the revision went up.
    shown = api.get(f"/api/v1/security-groups/{group['uuid']}/").json()
    assert len(shown["rules"]) == 3 and shown["revision_number"] == 1
    assert shown["rules"][2]["id"] == rule["id"]

    # The same rule in ZStack's form.
    zstack = api.get(f"/api/v1/security-groups/{group['uuid']}/rules/").json()
    assert zstack[2] | {"created": None} == {
        "uuid": rule["id"], "security_group_uuid": group["uuid"], "type": "Ingress", "protocol": "TCP",
        "start_port": 22, "end_port": 22, "allowed_cidr": "0.0.0.0/0", "remote_security_group_uuid": None,
        "ip_version": 4, "description": "", "created": None}
    assert [(r["type"], r["protocol"], r["start_port"], r["allowed_cidr"], r["ip_version"]) for r in zstack[:2]] == [
        ("Egress", "ALL", -1, "", 4), ("Egress", "ALL", -1, "", 6)]

    # The default egress rules can be deleted, and every change raises the revision.
    assert api.delete(f"{RULES}{group['rules'][1]['id']}/").status_code == 204
    shown = api.get(f"/api/v1/security-groups/{group['uuid']}/").json()
    assert len(shown["rules"]) == 2 and shown["revision_number"] == 2
    kinds = list(Job.objects.order_by("created").values_list("kind", flat=True))
    assert kinds == ["createSecurityGroup", "addSecurityGroupRule", "deleteSecurityGroupRule"]


def test_common_options(api, group):
    """--protocol tcp/udp/icmp/a number/any, port ranges, --remote-ip, --remote-group, --egress, --ethertype."""
    other = api.post("/api/v1/security-groups/", {"name": "db"}, format="json").json()
    cases = [
        ({"protocol": "udp", "port_range_min": 100, "port_range_max": 200}, ("udp", 100, 200, None)),
        ({"protocol": "icmp", "port_range_min": 8, "port_range_max": 0}, ("icmp", 8, 0, None)),
        ({"protocol": "icmp"}, ("icmp", None, None, None)),
        ({"protocol": "47"}, ("gre", None, None, None)),
        ({"protocol": 132, "port_range_min": 5}, ("sctp", 5, 5, None)),
        ({"protocol": "any", "remote_ip_prefix": "10.0.0.0/24"}, (None, None, None, "10.0.0.0/24")),
        ({"protocol": "tcp", "port_range_min": 22, "remote_ip_prefix": "fd00::/64"}, ("tcp", 22, 22, "fd00::/64")),
        ({"protocol": "icmp", "ethertype": "IPv6"}, ("ipv6-icmp", None, None, None)),
    ]
    for data, expected in cases:
        reply = api.post(RULES, {"security_group_id": group["uuid"], **data}, format="json")
        assert reply.status_code == 201, (data, reply.content)
        body = reply.json()
        assert (body["protocol"], body["port_range_min"], body["port_range_max"], body["remote_ip_prefix"]) == expected
    assert api.post(RULES, {"security_group_id": group["uuid"], "remote_ip_prefix": "fd00::/64"},
                    format="json").json()["ethertype"] == "IPv6"
    reply = api.post(RULES, {"security_group_id": group["uuid"], "direction": "egress", "protocol": "tcp",
                             "port_range_min": 5432, "port_range_max": 5432, "remote_group_id": other["uuid"]},
                     format="json")
    assert reply.status_code == 201 and reply.json()["remote_group_id"] == other["uuid"]
    assert reply.json()["direction"] == "egress"
    # ZStack's form: ICMP with type/code -1 (any), from one CIDR.
    reply = api.post(f"/api/v1/security-groups/{group['uuid']}/rules/",
                     {"type": "Ingress", "protocol": "ICMP", "start_port": -1, "end_port": -1,
                      "allowed_cidr": "198.51.100.0/24"}, format="json")
    assert reply.status_code == 201, reply.content
    assert reply.json()["protocol"] == "ICMP" and reply.json()["start_port"] == -1
    stored = SecurityGroupRule.objects.get(uuid=reply.json()["uuid"])
    assert (stored.protocol, stored.port_range_min, stored.remote_ip_prefix) == (1, None, "198.51.100.0/24")
    assert api.get(f"{RULES}{stored.uuid}/").json()["protocol"] == "icmp"
    assert SecurityGroup.objects.get(uuid=group["uuid"]).revision_number == len(cases) + 3


VALIDATION = [
    ({"protocol": "tcp", "port_range_min": 30, "port_range_max": 20}, "port_range_min",
     "For TCP/UDP protocols, port_range_min must be <= port_range_max (got 30 > 20)."),
    ({"port_range_min": 22, "port_range_max": 22}, "protocol", "Must also specify protocol if port range is given."),
    ({"protocol": "gre", "port_range_min": 22}, "port_range_min",
     "Protocol gre does not support port ranges: only tcp, udp and sctp have ports (and icmp its type and code)."),
    ({"protocol": "icmp", "port_range_max": 0}, "port_range_max",
     "ICMP code (port_range_max) 0 is provided but ICMP type (port_range_min) is missing."),
    ({"protocol": "icmp", "port_range_min": 256}, "port_range_min",
     "Invalid value for ICMP type 256: it must be 0 to 255 (or -1 for any)."),
    ({"protocol": "icmp", "port_range_min": 8, "port_range_max": 300}, "port_range_max",
     "Invalid value for ICMP code 300: it must be 0 to 255 (or -1 for any)."),
    ({"protocol": "tcp", "port_range_min": 0, "port_range_max": 70000}, "port_range_min",
     "Invalid value for port 0: it must be between 1 and 65535."),
    ({"ethertype": "IPv4", "remote_ip_prefix": "fd00::/64"}, "remote_ip_prefix",
     "Conflicting value ethertype IPv4 for CIDR fd00::/64."),
    ({"ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"}, "remote_ip_prefix",
     "Conflicting value ethertype IPv6 for CIDR 10.0.0.0/8."),
    ({"remote_ip_prefix": "10.0.0.0/33"}, "remote_ip_prefix", "'10.0.0.0/33' is not a valid IP prefix."),
    ({"protocol": "256"}, "protocol", "Security group rule protocol 256 not supported. Only protocol names such as "
     "tcp, udp, icmp, a number from 0 to 255, or any are supported."),
    ({"protocol": "\u00b2"}, "protocol", "Security group rule protocol \u00b2 not supported. Only protocol names such "
     "as tcp, udp, icmp, a number from 0 to 255, or any are supported."),
    ({"protocol": "bogus"}, "protocol", "Security group rule protocol bogus not supported. Only protocol names such "
     "as tcp, udp, icmp, a number from 0 to 255, or any are supported."),
    ({"direction": "sideways"}, "direction", '"sideways" is not a valid choice.'),
]


@pytest.mark.parametrize("data,field,message", VALIDATION, ids=[v[1] + str(i) for i, v in enumerate(VALIDATION)])
def test_rule_validation(api, group, data, field, message):
    err = error(api.post(RULES, {"security_group_id": group["uuid"], **data}, format="json"), 400)
    assert (err["field"], err["message"]) == (field, message)
    assert SecurityGroup.objects.get(uuid=group["uuid"]).revision_number == 0
    assert SecurityGroupRule.objects.count() == 2


def test_more_than_one_remote_and_duplicates(api, group):
    err = error(api.post(RULES, {"security_group_id": group["uuid"], "remote_ip_prefix": "10.0.0.0/8",
                                 "remote_group_id": group["uuid"]}, format="json"), 400)
    assert err == {"code": "invalid", "field": "remote_group_id",
                   "message": "Only remote_ip_prefix or remote_group_id may be provided."}
    first = api.post(RULES, {"security_group_id": group["uuid"], "protocol": "tcp", "port_range_min": 22,
                             "remote_ip_prefix": "0.0.0.0/0"}, format="json").json()
    err = error(api.post(RULES, {"security_group_id": group["uuid"], "protocol": "tcp", "port_range_min": 22,
                                 "port_range_max": 22}, format="json"), 409)
    assert err == {"code": "duplicate", "field": None,
                   "message": f"Security group rule already exists. Rule id is {first['id']}."}
    default_v4 = group["rules"][0]["id"]
    err = error(api.post(RULES, {"security_group_id": group["uuid"], "direction": "egress"}, format="json"), 409)
    assert err["message"] == f"Security group rule already exists. Rule id is {default_v4}."
    # ZStack's form refuses with its own field names.
    err = error(api.post(f"/api/v1/security-groups/{group['uuid']}/rules/",
                         {"type": "Ingress", "protocol": "TCP", "start_port": 30, "end_port": 20}, format="json"), 400)
    assert err["field"] == "start_port"
    err = error(api.post(f"/api/v1/security-groups/{group['uuid']}/rules/",
                         {"type": "Ingress", "protocol": "ALL", "start_port": 22, "end_port": 22}, format="json"), 400)
    assert err == {"code": "invalid", "field": "start_port",
                   "message": "Protocol ALL takes no ports: leave start_port and end_port at -1."}
    err = error(api.post(f"/api/v1/security-groups/{group['uuid']}/rules/",
                         {"type": "Ingress", "protocol": "TCP", "start_port": 22, "end_port": 22,
                          "allowed_cidr": "fd00::/8"}, format="json"), 400)
    assert err == {"code": "invalid", "field": "allowed_cidr",
                   "message": "Conflicting value ethertype IPv4 for CIDR fd00::/8."}
    assert SecurityGroup.objects.get(uuid=group["uuid"]).revision_number == 1


def test_l3_attachment_and_nic_membership(api, group):
    l3 = make_l3(name="FLAT-L3", services=["DHCP", "DNS", "SecurityGroup"], cidr="198.51.100.0/24")
    plain = make_l3(name="PLAIN-L3", l2=l3.l2_network, services=["DHCP"], cidr="10.0.0.0/24")
    vm = make_vm("INNER-VM", l3s=[l3])
    nic = vm.nics.get()
    other_nic = make_nic(make_vm("OTHER", zone=vm.zone), plain)
    base = f"/api/v1/security-groups/{group['uuid']}"

    err = error(api.post(f"{base}/nics/", {"nics": [str(nic.pk)]}, format="json"), 400)
    assert err == {"code": "invalid", "field": "nics", "message": f"VM NIC {nic} is on L3 network FLAT-L3, which "
                   "security group web is not attached to."}
    err = error(api.post(f"{base}/l3-networks/", {"l3_network": str(plain.uuid)}, format="json"), 400)
    assert err == {"code": "invalid", "field": "l3_network",
                   "message": "L3 network PLAIN-L3 does not offer the SecurityGroup service."}
    reply = api.post(f"{base}/l3-networks/", {"l3_network": str(l3.uuid)}, format="json")
    assert reply.status_code == 200 and reply.json()["l3_networks"] == [str(l3.uuid)]
    assert reply.json()["revision_number"] == 1
    assert error(api.post(f"{base}/l3-networks/", {"l3_network": str(l3.uuid)}, format="json"), 409)["message"] == (
        "Security group web is already attached to L3 network FLAT-L3.")

    members = api.post(f"{base}/nics/", {"nics": [str(nic.pk)]}, format="json")
    assert members.status_code == 200
    assert members.json() == [{"uuid": str(nic.pk), "vm_instance": str(vm.pk), "vm_name": "INNER-VM",
                               "l3_network": str(l3.uuid), "ip": nic.ip, "mac": nic.mac,
                               "joined": members.json()[0]["joined"]}]
    assert error(api.post(f"{base}/nics/", {"nics": [str(nic.pk)]}, format="json"), 409)["message"] == (
        f"VM NIC {nic} is already in security group web.")
    assert error(api.post(f"{base}/nics/", {"nics": [str(other_nic.pk)]}, format="json"), 400)["field"] == "nics"

    # A NIC may be in several groups.
    second = api.post("/api/v1/security-groups/", {"name": "ssh"}, format="json").json()
    api.post(f"/api/v1/security-groups/{second['uuid']}/l3-networks/", {"l3_network": str(l3.uuid)}, format="json")
    assert api.post(f"/api/v1/security-groups/{second['uuid']}/nics/", {"nics": [str(nic.pk)]},
                    format="json").status_code == 200
    assert set(nic.security_groups.values_list("name", flat=True)) == {"web", "ssh"}

    assert api.get(f"{base}/").json()["revision_number"] == 2 and api.get(f"{base}/").json()["nic_count"] == 1
    err = error(api.post(f"{base}/l3-networks/detach/", {"l3_network": str(l3.uuid)}, format="json"), 409)
    assert err["message"] == "Security group web still holds 1 VM NIC on L3 network FLAT-L3; remove them first."
    err = error(api.delete(f"{base}/"), 409)
    assert err == {"code": "in_use", "field": None, "message": "Security group web still holds 1 VM NIC; remove "
                   "them first or delete with force=true."}
    reply = api.post(f"{base}/nics/remove/", {"nics": [str(nic.pk)]}, format="json")
    assert reply.status_code == 200 and reply.json() == []
    assert api.get(f"{base}/").json()["revision_number"] == 3
    api.post(f"{base}/nics/", {"nics": [str(nic.pk)]}, format="json")
    assert api.delete(f"{base}/?force=true").status_code == 204
    assert list(nic.security_groups.values_list("name", flat=True)) == ["ssh"]


def test_a_group_named_as_remote_cannot_be_deleted(api, group):
    other = api.post("/api/v1/security-groups/", {"name": "db"}, format="json").json()
    api.post(RULES, {"security_group_id": other["uuid"], "remote_group_id": group["uuid"]}, format="json")
    err = error(api.delete(f"/api/v1/security-groups/{group['uuid']}/"), 409)
    assert err["code"] == "in_use" and err["message"].startswith("Still used by security group rule ingress IPv4")


def test_a_group_whose_rules_name_itself_can_be_deleted(api, group):
    reply = api.post(RULES, {"security_group_id": group["uuid"], "remote_group_id": group["uuid"]}, format="json")
    assert reply.status_code == 201 and reply.json()["remote_group_id"] == group["uuid"]
    assert api.delete(f"/api/v1/security-groups/{group['uuid']}/").status_code == 204
    assert not SecurityGroupRule.objects.exists()
