"""A separate process whose threads POST the same body to the API at once, for the racing-requests tests.

    python -m tests.core.api_post_worker <user pk> <url> <json body> <threads>

Prints "ready", waits for a line on stdin (so every process starts together), then POSTs from every thread
at once and prints one JSON line: {"statuses": [...]}.
The database comes from the environment (NIMBO_VAR_DIR's SQLite file, or DATABASE_URL).
"""

import json
import os
import sys
import threading


def main(user_pk, url, body, threads):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import setup_test_environment
    from rest_framework.test import APIClient

    from tests.support.workers import race

    setup_test_environment()  # the test client's host name is allowed
    user = get_user_model().objects.get(pk=user_pk)
    statuses, lock = [], threading.Lock()

    def post(_index):
        client = APIClient()
        client.force_authenticate(user)
        client.raise_request_exception = False
        try:
            status = client.post(url, body, format="json").status_code
        finally:
            connection.close()
        with lock:
            statuses.append(status)

    race(post, threads)
    print(json.dumps({"statuses": statuses}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4]))
