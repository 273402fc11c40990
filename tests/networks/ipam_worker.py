"""A separate process that allocates addresses, for the IPAM concurrency test.

    python -m tests.networks.ipam_worker <l3 uuid> <allocations per thread> <threads>

Prints "ready", waits for a line on stdin (so every process starts together), then allocates from
several threads at once and prints one JSON line: {"ips": [...], "exhausted": n, "errors": [...]}.
The database comes from the environment (NIMBO_VAR_DIR's SQLite file, or DATABASE_URL).
"""

import json
import os
import sys
import threading


def main(l3_uuid, per_thread, threads):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.db import connection

    from apps.networks.exceptions import IpRangeExhausted
    from apps.networks.ipam import allocate_ip
    from tests.support.workers import race

    ips, errors, exhausted = [], [], []
    lock = threading.Lock()

    def work(_index):
        try:
            for _ in range(per_thread):
                try:
                    used = allocate_ip(l3_uuid, owner="test")
                    with lock:
                        ips.append(used.ip)
                except IpRangeExhausted:
                    with lock:
                        exhausted.append(1)
                except Exception as exc:  # noqa: BLE001 - reported, and the test fails on it
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    race(work, threads)
    print(json.dumps({"ips": ips, "exhausted": len(exhausted), "errors": errors}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
