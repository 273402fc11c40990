"""The registry of host-side operations and what every operation may use.

An operation is a plain function of keyword arguments (plain data in, plain data out),
registered under a dotted name:

    @operation("network.ensure_l2")
    def ensure_l2(interface, vlan=None): ...

or a function taking the whole payload as its one argument (the convention of storage.py, guests.py,
domains.py, router.py), registered with `@payload_operation("storage.create_volume")`.

Any module of this package can register operations (network.py, storage.py, firewall.py...);
the agent imports them all and runs only what is registered here. Raise `HostOpError` for a
failure the user should read. This package never imports Django.
"""

import os
import time

from .errors import HostError

OPERATIONS = {}


class HostOpError(HostError):
    """An expected failure of a host operation; its message reaches the user as is."""


def operation(name):
    def register(func):
        if name in OPERATIONS and OPERATIONS[name] is not func:
            raise RuntimeError(f"host operation {name} registered twice")
        OPERATIONS[name] = func
        return func

    return register


def payload_operation(name):
    """Register `func(payload)` as the operation `name` (the agent calls every operation with **payload)."""

    def register(func):
        def call(**payload):
            return func(payload)

        call.takes_payload = func
        operation(name)(call)
        return func

    return register


def host_uuid():
    return os.environ.get("NIMBO_HOST_UUID", "")


def sandbox_phys():
    """The sandbox physical-network namespace this host is plugged into ("" on a real host)."""
    return os.environ.get("NIMBO_SANDBOX_PHYS", "")


@operation("agent.ping")
def ping(hold=0.0):
    """The agent answers: {"pid": the agent process that ran the call}. `hold` keeps the call busy that
    many seconds (at most 600): a way to see that calls run side by side and that timeouts end them."""
    if hold:
        time.sleep(min(float(hold), 600.0))
    return {"pid": os.getpid()}
