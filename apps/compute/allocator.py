"""Choosing a host for a VM: a pure function over plain data, and the query that feeds it.

`choose_host(candidates, cpu, memory, strategy, last_host=None)` takes candidates as dicts
{uuid, name, cpu_num, memory_size, used_cpu, used_memory} and returns the chosen one, or raises
`NoHostAvailable` naming what was missing. Memory is not over-provisioned; CPUs are, by `cpu_ratio`.
Strategies follow ZStack's: the first host with room, the least used one (most free memory), or the VM's
last host when it still has room.
"""

from apps.core.exceptions import JobFailed

from .choices import AllocatorStrategy


class NoHostAvailable(JobFailed):
    code = "no_host_available"


def _size(n):
    """512M, 64T, 23.5G: exact when it divides, else one decimal."""
    for unit, scale in (("T", 1024**4), ("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if n >= scale:
            return f"{n // scale}{unit}" if n % scale == 0 else f"{n / scale:.1f}{unit}"
    return f"{n} bytes"


def choose_host(candidates, cpu, memory, strategy=AllocatorStrategy.DEFAULT, last_host=None, cpu_ratio=10):
    """`cpu_ratio`: virtual CPUs per host CPU (ZStack's CPU over-provisioning ratio, 10 by default)."""
    if not candidates:
        raise NoHostAvailable("No connected, enabled host can run this VM.")
    fitting = [
        h for h in candidates
        if h["memory_size"] - h["used_memory"] >= memory and h["cpu_num"] * cpu_ratio - h["used_cpu"] >= cpu
    ]
    if not fitting:
        most = max(h["memory_size"] - h["used_memory"] for h in candidates)
        raise NoHostAvailable(
            f"No host has {_size(memory)} of memory and {cpu} CPU(s) free for this VM "
            f"(the most free memory on a host is {_size(max(most, 0))})."
        )
    if strategy == AllocatorStrategy.LAST_HOST and last_host:
        for h in fitting:
            if h["uuid"] == last_host:
                return h
    if strategy == AllocatorStrategy.LEAST_USED:
        return max(fitting, key=lambda h: (h["memory_size"] - h["used_memory"], h["name"]))
    return fitting[0]
