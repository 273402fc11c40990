"""A separate process that creates security groups in one project, for the quota race test.

    python -m tests.projects.quota_worker <project uuid> <prefix> <threads>

Prints "ready", waits for a line on stdin (so every process starts together), then creates one group per
thread at once and prints one JSON line: {"outcomes": ["created" | "refused" | an error, ...]}.
The database comes from the environment (NIMBO_VAR_DIR's SQLite file, or DATABASE_URL).
"""

import json
import os
import sys
import threading


def main(project_uuid, prefix, threads):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.db import connection

    from apps.projects import quotas
    from apps.projects.models import Project
    from apps.secgroups import services as sg_services
    from tests.support.workers import race

    project = Project.objects.get(pk=project_uuid)
    outcomes, lock = [], threading.Lock()

    def create(index):
        try:
            sg_services.create_security_group(name=f"{prefix}-{index}", project=project)
            outcome = "created"
        except quotas.QuotaExceeded:
            outcome = "refused"
        except Exception as exc:  # noqa: BLE001 - reported, and the test fails on it
            outcome = repr(exc)
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    race(create, threads)
    print(json.dumps({"outcomes": outcomes}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
