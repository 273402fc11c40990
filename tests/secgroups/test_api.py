"""Security groups through the API, as every resource (tests/support/resources.py). Their rules, members
and L3 networks: the scenario tests/scenarios/test_04_security_group_api.py."""

import pytest

from apps.secgroups.models import SecurityGroup, SecurityGroupRule
from apps.secgroups.services import create_security_group
from tests.support.resources import ResourceAPITests

pytestmark = pytest.mark.django_db


class TestSecurityGroupAPI(ResourceAPITests):
    url = "/api/v1/security-groups/"
    model = SecurityGroup
    kind = "SecurityGroup"
    create_data = {"name": "web", "description": "one group per service"}
    create_expected = {"name": "web", "description": "one group per service", "owner": "alice",
                       "revision_number": 0, "l3_networks": [], "nic_count": 0}
    update_data = {"name": "www", "description": "web servers"}
    required_error = {"code": "required", "field": "name", "message": "This field is required."}
    list_queries = 6  # session, user, count, page, rules, L3 networks

    def make(self, i):
        return create_security_group(name=f"g{i}", description="db" if i == 1 else "")

    def filters(self):
        for i in range(3):
            self.make(i)
        return [({"name": "g2"}, ["g2"]), ({"search": "db"}, ["g1"])]


class TestSecurityGroupRuleAPI(ResourceAPITests):
    """Rules in Neutron's form; they never change (delete and add). Adding one: scenario 04, with its body."""

    url = "/api/v1/security-group-rules/"
    model = SecurityGroupRule
    delete_kind = "deleteSecurityGroupRule"
    id_field = "id"
    name_field = "description"
    required_error = {"code": "required", "field": "security_group_id", "message": "This field is required."}
    list_queries = 4  # session, user, count, page (each rule's group joined, not fetched row by row)

    def make(self, i):
        if not hasattr(self, "_group"):
            self._group = SecurityGroup.objects.create(name="web")
        return SecurityGroupRule.objects.create(security_group=self._group, protocol=6, port_range_min=20 + i,
                                                port_range_max=20 + i, description=f"rule {i}",
                                                direction="egress" if i == 1 else "ingress",
                                                ethertype="IPv6" if i == 2 else "IPv4")

    def filters(self):
        for i in range(3):
            self.make(i)
        other = SecurityGroup.objects.create(name="db")
        SecurityGroupRule.objects.create(security_group=other, description="db rule")
        return [({"direction": "egress"}, ["rule 1"]), ({"ethertype": "IPv6"}, ["rule 2"]),
                ({"security_group": str(other.uuid)}, ["db rule"])]
