"""The web server's PostgreSQL connections stay bounded by its pool under a burst of requests.

A real uvicorn serving the test database; PostgreSQL only (pg_stat_activity). CI runs it there.
"""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection

from tests.support.workers import stop_process

pytestmark = [pytest.mark.postgres_sensitive, pytest.mark.django_db(transaction=True)]

POOL = 3


def server_connections():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid()")
        return cursor.fetchone()[0]


@pytest.fixture
def server(user):
    if connection.vendor != "postgresql":
        pytest.skip("connection pooling is PostgreSQL's")
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=user).key
    db = settings.DATABASES["default"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    where = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{where}"
    env = {**os.environ, "DATABASE_URL": url, "NIMBO_DB_POOL_SIZE": str(POOL), "NIMBO_DEBUG": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1",
                             "--port", str(port), "--no-access-log"], env=env, cwd=Path(__file__).parents[2],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                requests.get(f"{base}/api/v1/", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.1)
        yield base, {"Authorization": f"Token {token}"}
    finally:
        stop_process(proc)


def test_a_burst_of_requests_uses_at_most_the_pool(server):
    from tests.support.factories import make_zone

    for index in range(5):
        make_zone(name=f"ZONE{index}")
    base, headers = server
    before = server_connections()
    statuses, peak, done = [], [0], threading.Event()
    lock = threading.Lock()

    def watch():
        try:
            while not done.is_set():
                peak[0] = max(peak[0], server_connections())
                time.sleep(0.02)
        finally:
            connection.close()

    def client():
        with requests.Session() as session:
            for _ in range(4):
                status = session.get(f"{base}/api/v1/zones/", headers=headers, timeout=60).status_code
                with lock:
                    statuses.append(status)

    watcher = threading.Thread(target=watch)
    watcher.start()
    clients = [threading.Thread(target=client) for _ in range(40)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(timeout=120)
    done.set()
    watcher.join()
    time.sleep(0.5)
    after = server_connections()
    print(f"server connections: before {before}, peak {peak[0]}, after {after} (pool {POOL})")
    assert statuses == [200] * 160
    assert peak[0] <= before + POOL and after <= before + POOL, (before, peak[0], after)
