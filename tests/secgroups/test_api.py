"""Security groups through the API, as every resource (tests/support/resources.py). Their rules, members
and L3 networks: the scenario tests/scenarios/test_04_security_group_api.py."""

import pytest

from apps.secgroups.models import SecurityGroup
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
