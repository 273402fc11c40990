"""The host allocator, as a pure function."""

import pytest

from apps.compute.allocator import NoHostAvailable, choose_host

G = 1024**3
M = 1024**2


def host(name, memory=4 * G, used_memory=0, cpu=2, used_cpu=0):
    return {"uuid": f"u-{name}", "name": name, "cpu_num": cpu, "memory_size": memory, "used_cpu": used_cpu,
            "used_memory": used_memory}


def test_first_host_with_enough_free_memory():
    hosts = [host("a", used_memory=4 * G - 256 * M), host("b"), host("c")]
    assert choose_host(hosts, 1, 512 * M)["name"] == "b"


def test_least_used_picks_the_most_free_memory_and_last_host_is_preferred_when_it_fits():
    hosts = [host("a", used_memory=G), host("b", used_memory=3 * G), host("c", memory=8 * G)]
    assert choose_host(hosts, 1, 512 * M, "LeastUsedHostAllocatorStrategy")["name"] == "c"
    assert choose_host(hosts, 1, 512 * M, "LastHostPreferredAllocatorStrategy", last_host="u-b")["name"] == "b"
    assert choose_host(hosts, 1, 2 * G, "LastHostPreferredAllocatorStrategy", last_host="u-b")["name"] == "a"


def test_cpus_are_over_provisioned_by_the_ratio_only():
    assert choose_host([host("a", cpu=1, used_cpu=9)], 1, M)["name"] == "a"
    with pytest.raises(NoHostAvailable):
        choose_host([host("a", cpu=1, used_cpu=10)], 1, M)
    assert choose_host([host("a", cpu=1, used_cpu=10)], 1, M, cpu_ratio=50)["name"] == "a"


def test_no_room_says_what_was_missing():
    with pytest.raises(NoHostAvailable) as exc:
        choose_host([host("a", memory=G, used_memory=768 * M)], 1, 512 * M)
    assert exc.value.message == ("No host has 512M of memory and 1 CPU(s) free for this VM "
                                 "(the most free memory on a host is 256M).")
    with pytest.raises(NoHostAvailable) as exc:
        choose_host([], 1, 512 * M)
    assert exc.value.message == "No connected, enabled host can run this VM."
