"""Racing requests: the database, not a check before insert, keeps one of each; every loser gets 409.

Run on SQLite by `make test` and again on PostgreSQL by CI (postgres_sensitive).
"""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.infra.models import Zone
from apps.secgroups.models import SecurityGroupRule

pytestmark = [pytest.mark.postgres_sensitive, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def racing_database():
    if connection.vendor == "sqlite":
        # The test's in-memory SQLite is shared-cache, which fails a waiting writer at once ("table
        # is locked") where the portal's file database queues it (IMMEDIATE + busy timeout).
        pytest.skip("racing writers need a file SQLite or PostgreSQL")


def race(user, count, url, payload):
    """`count` clients POST at once; returns their status codes."""
    barrier = threading.Barrier(count)
    statuses = []
    lock = threading.Lock()

    def post():
        client = APIClient()
        client.force_authenticate(user)
        client.raise_request_exception = False
        try:
            barrier.wait(timeout=30)
            status = client.post(url, payload, format="json").status_code
        finally:
            connection.close()
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=post) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return sorted(statuses)


def test_zones_with_one_name_at_once_store_one_and_answer_409(user, racing_database):
    statuses = race(user, 30, "/api/v1/zones/", {"name": "ZONE1"})
    assert statuses == [201] + [409] * 29
    assert Zone.objects.filter(name="ZONE1").count() == 1


def test_identical_rules_at_once_store_one(user, racing_database):
    from apps.secgroups import services

    group = services.create_security_group(name="web", user=user)
    rule = {"security_group_id": str(group.uuid), "direction": "ingress", "protocol": "tcp",
            "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"}
    statuses = race(user, 50, "/api/v1/security-group-rules/", rule)
    assert statuses == [201] + [409] * 49
    assert SecurityGroupRule.objects.filter(security_group=group, port_range_min=22).count() == 1


def test_the_database_refuses_a_copy_of_a_rule_written_past_the_service(user):
    from django.db import IntegrityError, transaction

    from apps.secgroups import services

    group = services.create_security_group(name="web", user=user)
    fields = {"security_group": group, "direction": "ingress", "ethertype": "IPv4", "protocol": None}
    SecurityGroupRule.objects.create(**fields, remote_ip_prefix="0.0.0.0/0")
    with pytest.raises(IntegrityError), transaction.atomic():
        SecurityGroupRule.objects.create(**fields, remote_ip_prefix="")  # /0 is the same as no prefix
    SecurityGroupRule.objects.create(**{**fields, "protocol": 6})  # another protocol is another rule
