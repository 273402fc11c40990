"""The API fuzzed from its own OpenAPI schema (schemathesis): no answer is a 5xx, and every answer
is what the schema documents. Bounded: a fixed seed and a fixed number of examples per operation.

NIMBO_FUZZ_EXAMPLES raises the count for a longer hunt (the default keeps this under a minute or
two on two cores).
"""

import os

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import response_schema_conformance

EXAMPLES = int(os.environ.get("NIMBO_FUZZ_EXAMPLES", "10"))

# Only the fuzzing phase, seeded: the coverage phase ignores max-examples (thousands of cases).
CONFIG = SchemathesisConfig.from_dict({
    "seed": 14, "phases": {"examples": {"enabled": False}, "coverage": {"enabled": False},
                           "stateful": {"enabled": False}}})
schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True), config=CONFIG)
schema.app = get_wsgi_application()  # in-process, same database connection as the test


@pytest.fixture
def world(db):
    """One of each resource, so that lists answer rows whose shape the schema must describe."""
    from apps.secgroups import services as sg
    from tests.support import factories as f

    zone = f.make_zone()
    cluster = f.make_cluster(zone)
    f.make_host(cluster)
    l2 = f.make_l2(zone, clusters=[cluster])
    l3 = f.make_l3(l2, services=["DHCP", "SecurityGroup"], cidr="10.0.0.0/24", dns=["8.8.8.8"])
    vm = f.make_vm(l3s=[l3], zone=zone)

    f.make_image()
    f.make_primary_storage(zone)
    f.make_local_backup_storage()
    group = sg.create_security_group(name="web")
    sg.add_rule(group, direction="ingress", ethertype="IPv4", protocol=6, port_range_min=22, port_range_max=22)
    return vm


@pytest.fixture
def token(world):
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user = get_user_model().objects.create_superuser("fuzz", "fuzz@example.org", "correct-horse-9")
    return Token.objects.create(user=user).key


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_answers_as_documented_and_never_5xx(case, token):
    case.call_and_validate(headers={"Authorization": f"Token {token}"},
                           checks=[not_a_server_error, response_schema_conformance])
