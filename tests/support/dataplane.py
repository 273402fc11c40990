"""Test namespaces for data-plane tests: a stand-in host namespace with a bridge, removed afterwards.

Everything lives in namespaces with a random suffix; the machine's own interfaces are never touched.
"""

import secrets
import shutil

from workers.host import links


def suffix():
    return secrets.token_hex(3)


class HostNamespace:
    """A namespace playing a host, with bridge `bridge` up; `cleanup()` removes it and what hangs off it."""

    def __init__(self, bridge="br_eth0"):
        self.name = f"nimbo-t-{suffix()}"
        self.bridge = bridge
        self.cleanups = []

    def __enter__(self):
        links.ensure_netns(self.name)
        links.ip_batch([f"link add {self.bridge} type bridge", f"link set {self.bridge} up"], netns=self.name)
        return self

    def on_cleanup(self, func, *args, **kwargs):
        self.cleanups.append((func, args, kwargs))

    def __exit__(self, *exc):
        for func, args, kwargs in reversed(self.cleanups):
            try:
                func(*args, **kwargs)
            except Exception:  # noqa: BLE001 - clean up as much as possible
                pass
        links.delete_netns(self.name)


def guest_exec(spec, *cmd, timeout=20):
    """Run `cmd` as the namespace guest does (its namespace, /etc files and host name)."""
    from workers.host import guests

    return guests.run_in(spec, *cmd, timeout=timeout)


def have(*tools):
    return all(shutil.which(t) for t in tools)
