"""Job bookkeeping: cost of one recorded synchronous operation (createZone) end to end."""

import statistics
import time


def run():
    from django.conf import settings
    from django.db import connection

    from apps.infra.services import create_zone, delete_zone

    # A scratch database: the benchmark never writes into the portal's own data.
    old = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        samples = []
        for i in range(200):
            t = time.perf_counter()
            zone = create_zone(name=f"bench-{i}")
            samples.append(time.perf_counter() - t)
            delete_zone(zone=zone)
        print(f"   createZone with its Job row: median {statistics.median(samples) * 1000:.2f} ms, "
              f"p95 {sorted(samples)[int(len(samples) * 0.95)] * 1000:.2f} ms over {len(samples)} calls "
              f"({settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]})")
    finally:
        connection.creation.destroy_test_db(old, verbosity=0)
