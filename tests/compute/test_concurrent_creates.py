"""50 VMs created at once on a /26 whose range holds 40 addresses: 40 VMs with distinct addresses, 10
clean "no free IP address" refusals that leave nothing behind, and no VM in Error."""

import sqlite3
import tempfile
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count

from apps.compute.models import VmInstance
from apps.networks.models import UsedIp
from tests.support.factories import make_image, make_ip_range, make_l3, make_offering
from tests.support.workers import database_env, run_together

PROCESSES, THREADS = 5, 10


@pytest.mark.postgres_sensitive
@pytest.mark.django_db(transaction=True)
def test_fifty_vm_creates_at_once_on_a_slash_26():
    l3 = make_l3(name="L3-26")
    make_ip_range(l3, start_ip="10.0.0.10", end_ip="10.0.0.49", netmask="255.255.255.192", gateway="10.0.0.1")
    offering, image = make_offering(), make_image(state="Ready")
    with tempfile.TemporaryDirectory(prefix="nimbo-creates-") as tmp:
        results = run_together([("tests.compute.vm_create_worker", l3.pk, offering.pk, image.pk, f"VM-{p}", THREADS)
                                for p in range(PROCESSES)], database_env(tmp), timeout=180)
        if connection.vendor == "sqlite":  # the workers wrote to a copy: read it back
            copy = sqlite3.connect(Path(tmp) / "nimbo.sqlite3")
            vms = copy.execute("SELECT state, COUNT(*) FROM compute_vminstance GROUP BY state").fetchall()
            used = [r[0] for r in copy.execute("SELECT ip FROM networks_usedip WHERE l3_network_id = ?", (l3.pk.hex,))]
            copy.close()
        else:
            vms = list(VmInstance.objects.order_by().values_list("state").annotate(n=Count("pk")))
            used = list(UsedIp.objects.filter(l3_network=l3).values_list("ip", flat=True))
    assert [e for r in results for e in r["errors"]] == []
    ips = [ip for r in results for ip in r["ips"]]
    assert len(ips) == 40 and len(set(ips)) == 40
    assert sorted(ips, key=lambda ip: int(ip.rsplit(".", 1)[1])) == [f"10.0.0.{i}" for i in range(10, 50)]
    refused = [m for r in results for m in r["exhausted"]]
    assert refused == ["No free IP address is left in the IP ranges of L3 network L3-26."] * 10
    assert [tuple(v) for v in vms] == [("Created", 40)]  # no VM half-made by a refusal, none in Error
    assert sorted(used) == sorted(ips)
