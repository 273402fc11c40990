"""IPAM: each address once (also from many processes and threads at once), specific addresses,
release, exhaustion, and the cost of an allocation not depending on how many addresses are used."""

import sqlite3
import tempfile
from pathlib import Path

import pytest
from django.db import connection

from apps.core.exceptions import InvalidInput
from apps.networks.exceptions import IpAddressInUse, IpRangeExhausted
from apps.networks.ipam import allocate_ip, release_ip
from apps.networks.models import UsedIp
from tests.support.factories import make_ip_range, make_l3
from tests.support.workers import database_env, run_together

@pytest.mark.django_db
def test_allocates_in_order_then_reuses_released_addresses_after_the_cursor_wraps():
    l3 = make_l3()
    make_ip_range(l3, start_ip="10.0.0.10", end_ip="10.0.0.13", netmask="255.255.255.0", gateway="10.0.0.1")
    got = [allocate_ip(l3).ip for _ in range(4)]
    assert got == ["10.0.0.10", "10.0.0.11", "10.0.0.12", "10.0.0.13"]
    with pytest.raises(IpRangeExhausted) as exc:
        allocate_ip(l3)
    assert exc.value.message == "No free IP address is left in the IP ranges of L3 network FLAT-L3."
    assert exc.value.status == 409 and exc.value.code == "ip_range_exhausted"
    release_ip(UsedIp.objects.get(ip="10.0.0.11"))
    assert allocate_ip(l3).ip == "10.0.0.11"


@pytest.mark.django_db
def test_released_addresses_are_not_reused_before_the_cursor_wraps():
    l3 = make_l3(cidr="10.0.0.0/24")
    first = allocate_ip(l3)
    release_ip(first)
    assert allocate_ip(l3).ip == "10.0.0.3"


@pytest.mark.django_db
def test_allocation_skips_used_runs_and_moves_to_the_next_range():
    l3 = make_l3()
    make_ip_range(l3, name="A", start_ip="10.0.0.10", end_ip="10.0.0.12", netmask="255.255.255.0", gateway="10.0.0.1")
    make_ip_range(l3, name="B", start_ip="10.0.0.20", end_ip="10.0.0.21", netmask="255.255.255.0", gateway="10.0.0.1")
    allocate_ip(l3, requested="10.0.0.10")
    allocate_ip(l3, requested="10.0.0.11")
    assert allocate_ip(l3).ip == "10.0.0.12"
    assert [allocate_ip(l3).ip for _ in range(2)] == ["10.0.0.20", "10.0.0.21"]


@pytest.mark.django_db
def test_requested_address():
    l3 = make_l3(cidr="10.0.0.0/24")
    used = allocate_ip(l3, requested="10.0.0.50", owner="test")
    assert (used.ip, used.ip_int, used.owner_type, used.gateway) == ("10.0.0.50", 0x0A000032, "test", "10.0.0.1")
    with pytest.raises(IpAddressInUse) as exc:
        allocate_ip(l3, requested="10.0.0.50")
    assert (exc.value.status, exc.value.message, exc.value.field) == (
        409, "IP address 10.0.0.50 is already in use on L3 network FLAT-L3.", "ip")
    with pytest.raises(InvalidInput) as exc:
        allocate_ip(l3, requested="10.0.0.1")
    assert exc.value.message == "10.0.0.1 is not in any IP range of L3 network FLAT-L3."
    with pytest.raises(InvalidInput) as exc:
        allocate_ip(l3, requested="10.0.0.300")
    assert exc.value.message == "10.0.0.300 is not a valid IPv4 address."


@pytest.mark.django_db
def test_no_range_is_a_clear_error():
    with pytest.raises(IpRangeExhausted) as exc:
        allocate_ip(make_l3())
    assert exc.value.message == "L3 network FLAT-L3 has no IP range to allocate from."


def _run_workers(l3, processes, per_thread, threads):
    with tempfile.TemporaryDirectory(prefix="nimbo-ipam-") as tmp:
        results = run_together([("tests.networks.ipam_worker", l3.pk, per_thread, threads)] * processes,
                               database_env(tmp), timeout=120)
        if connection.vendor == "sqlite":
            # The workers wrote to the copy: read their rows back from it.
            copy = sqlite3.connect(Path(tmp) / "nimbo.sqlite3")
            rows = [r[0] for r in copy.execute("SELECT ip FROM networks_usedip WHERE l3_network_id = ?",
                                               (l3.pk.hex,))]
            copy.close()
        else:
            rows = list(UsedIp.objects.filter(l3_network=l3).values_list("ip", flat=True))
    return results, rows


@pytest.mark.postgres_sensitive
@pytest.mark.django_db(transaction=True)
def test_concurrent_allocations_from_many_processes_and_threads_hand_out_each_address_once():
    l3 = make_l3(cidr="10.0.0.0/24")  # 253 addresses
    results, rows = _run_workers(l3, processes=4, per_thread=10, threads=3)
    assert [e for r in results for e in r["errors"]] == []
    ips = [ip for r in results for ip in r["ips"]]
    assert len(ips) == 120 and len(set(ips)) == 120
    assert sorted(rows) == sorted(ips)


@pytest.mark.postgres_sensitive
@pytest.mark.django_db(transaction=True)
def test_concurrent_allocations_exhaust_a_range_exactly():
    l3 = make_l3()
    make_ip_range(l3, start_ip="10.0.0.10", end_ip="10.0.0.29", netmask="255.255.255.0", gateway="10.0.0.1")
    results, rows = _run_workers(l3, processes=3, per_thread=5, threads=2)  # 30 requests, 20 addresses
    assert [e for r in results for e in r["errors"]] == []
    ips = [ip for r in results for ip in r["ips"]]
    assert sorted(ips, key=lambda ip: int(ip.rsplit(".", 1)[1])) == [f"10.0.0.{i}" for i in range(10, 30)]
    assert sum(r["exhausted"] for r in results) == 10
    assert len(rows) == 20
