"""IPAM: cost of one allocation on a /16, empty vs with 60,000 addresses in use."""

import ipaddress
import statistics
import time

SAMPLES = 200


def _measure(l3, allocate_ip, release_ip):
    samples, taken = [], []
    for _ in range(SAMPLES):
        started = time.perf_counter()
        taken.append(allocate_ip(l3, owner="bench"))
        samples.append(time.perf_counter() - started)
    for used in taken:
        release_ip(used)
    return statistics.median(samples) * 1000, sorted(samples)[int(SAMPLES * 0.95)] * 1000


def run():
    from django.conf import settings
    from django.db import connection

    old = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from apps.infra.models import Zone
        from apps.networks.ipam import allocate_ip, release_ip
        from apps.networks.models import IpRange, L2Network, L3Network, UsedIp
        from apps.networks.models.ipam import cidr_to_range

        zone = Zone.objects.create(name="BENCH")
        l2 = L2Network.objects.create(zone=zone, name="L2", physical_interface="eth0")
        l3 = L3Network.objects.create(l2_network=l2, name="L3")
        ip_range = IpRange.objects.create(l3_network=l3, name="R", **cidr_to_range("10.1.0.0/16"))
        engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]

        empty = _measure(l3, allocate_ip, release_ip)
        IpRange.objects.filter(pk=ip_range.pk).update(cursor=ip_range.start_int)
        start = ip_range.start_int
        UsedIp.objects.bulk_create(
            [UsedIp(l3_network=l3, ip_range=ip_range, ip=str(ipaddress.IPv4Address(start + i)), ip_int=start + i,
                    owner_type="bench") for i in range(60_000)], batch_size=5000)
        IpRange.objects.filter(pk=ip_range.pk).update(cursor=start + 60_000)
        full = _measure(l3, allocate_ip, release_ip)
        # The worst case: the cursor wrapped to the range's start, so the free address is found
        # past 60,000 used ones (one indexed query still, no Python scan).
        IpRange.objects.filter(pk=ip_range.pk).update(cursor=start)
        started = time.perf_counter()
        allocate_ip(l3, owner="bench")
        wrapped = (time.perf_counter() - started) * 1000
        print(f"   allocate_ip on a /16 ({engine}), median / p95 over {SAMPLES} calls:")
        print(f"     empty:              {empty[0]:.2f} ms / {empty[1]:.2f} ms")
        print(f"     60,000 in use:      {full[0]:.2f} ms / {full[1]:.2f} ms")
        print(f"     cursor wrapped over 60,000 in use (one call): {wrapped:.2f} ms")
    finally:
        connection.creation.destroy_test_db(old, verbosity=0)
