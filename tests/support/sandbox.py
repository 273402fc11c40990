"""Sandbox hosts in tests: build them for real (namespaces, sshd, agent) and always remove them."""

import uuid

from apps.infra import sandbox

_handed_out = set()


def free_ip(prefix="198.51.100."):
    """A management address no other call of this session got (10-209; the scenarios use .230-.240)."""
    for _ in range(1000):
        ip = prefix + str(10 + uuid.uuid4().int % 200)
        if ip not in _handed_out:
            _handed_out.add(ip)
            return ip
    _handed_out.clear()
    return free_ip(prefix)


class SandboxTracker:
    """Remembers every namespace a test built and removes them at teardown, also on failure."""

    def __init__(self):
        self.namespaces = set()

    def machine(self, ns, ip, password, port=22):
        self.namespaces.add(ns)
        sandbox.ensure_machine(ns, ip, password, port)
        return ns

    def track(self, ns):
        self.namespaces.add(ns)
        return ns

    def cleanup(self):
        from apps.infra.models import Host

        try:
            self.namespaces.update(h.netns for h in Host.objects.select_related("cluster") if h.netns)
        except Exception:  # noqa: BLE001 - the database may already be gone
            pass
        for ns in self.namespaces:
            sandbox.destroy_machine(ns)
