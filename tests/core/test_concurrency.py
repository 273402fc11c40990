"""Racing requests: the database, not a check before insert, keeps one of each; every loser gets 409.

Run on SQLite by `make test` and again on PostgreSQL by CI (postgres_sensitive).
"""

import json
import sqlite3
import tempfile
from pathlib import Path

import pytest
from django.db import connection

from apps.infra.models import Zone
from apps.secgroups.models import SecurityGroupRule
from tests.support.workers import database_env, run_together

pytestmark = [pytest.mark.postgres_sensitive, pytest.mark.django_db(transaction=True)]


def race(user, count, url, payload, table, **where):
    """`count` clients POST at once from worker processes (on SQLite, against a file copy of the test
    database: its in-memory one fails a waiting writer at once, where the portal's file database queues
    it); their status codes, and how many rows of `table` match `where` afterwards."""
    processes = 5 if count % 5 == 0 else 1
    with tempfile.TemporaryDirectory(prefix="nimbo-race-") as tmp:
        results = run_together([("tests.core.api_post_worker", user.pk, url, json.dumps(payload), count // processes)]
                               * processes, database_env(tmp), timeout=120)
        if connection.vendor == "sqlite":  # the workers wrote to a copy: read it back
            copy = sqlite3.connect(Path(tmp) / "nimbo.sqlite3")
            clause = " AND ".join(f"{column} = ?" for column in where)
            rows = copy.execute(f"SELECT COUNT(*) FROM {table._meta.db_table} WHERE {clause}",
                                [getattr(v, "hex", v) for v in where.values()]).fetchone()[0]
            copy.close()
        else:
            rows = table.objects.filter(**where).count()
    return sorted(s for r in results for s in r["statuses"]), rows


def test_zones_with_one_name_at_once_store_one_and_answer_409(user):
    statuses, stored = race(user, 30, "/api/v1/zones/", {"name": "ZONE1"}, Zone, name="ZONE1")
    assert statuses == [201] + [409] * 29
    assert stored == 1


def test_identical_rules_at_once_store_one(user):
    from apps.secgroups import services

    group = services.create_security_group(name="web", user=user)
    rule = {"security_group_id": str(group.uuid), "direction": "ingress", "protocol": "tcp",
            "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"}
    statuses, stored = race(user, 50, "/api/v1/security-group-rules/", rule, SecurityGroupRule,
                            security_group_id=group.pk, port_range_min=22)
    assert statuses == [201] + [409] * 49
    assert stored == 1


def test_the_database_refuses_a_copy_of_a_rule_written_past_the_service(user):
    from django.db import IntegrityError, transaction

    from apps.secgroups import services

    group = services.create_security_group(name="web", user=user)
    fields = {"security_group": group, "direction": "ingress", "ethertype": "IPv4", "protocol": None}
    SecurityGroupRule.objects.create(**fields, remote_ip_prefix="0.0.0.0/0")
    with pytest.raises(IntegrityError), transaction.atomic():
        SecurityGroupRule.objects.create(**fields, remote_ip_prefix="")  # /0 is the same as no prefix
    SecurityGroupRule.objects.create(**{**fields, "protocol": 6})  # another protocol is another rule
