"""The virtual router on a host: a network namespace with a leg on the L3's bridge, running dnsmasq.

`ensure_router(spec)` converges: it creates what is missing (namespace, leg, address, files,
dnsmasq), reloads dnsmasq with SIGHUP when only its host entries changed, restarts it when its
configuration changed, and does nothing when all is right. It returns the list of repairs made,
which the reconcile job reports as drift. `destroy_router(spec)` removes every trace.

The files come compiled (see apps/vrouter/compile.py); this module only places them. dnsmasq
runs inside the router's namespace only, so the host's own interfaces are never touched.
No Django import here.
"""

import hashlib
import os
import shutil
import signal
from dataclasses import asdict, dataclass, field

from . import links

STATE_ROOT = "/run/nimbo/routers"
DNSMASQ = "/usr/sbin/dnsmasq"
RELOADABLE = ("dhcp-hosts", "hosts")


@dataclass
class RouterSpec:
    """One router: its namespace `name`, where its leg goes, its address and its compiled files."""

    name: str
    bridge: str
    leg: str  # host-side veth name (at most 15 characters)
    address: str  # "198.51.100.2/24"
    files: dict = field(default_factory=dict)
    host_netns: str | None = None
    inner: str = "eth0"
    mac: str | None = None
    state_root: str = STATE_ROOT
    l2_networks: list = field(default_factory=list)  # [{"interface", "vlan"}]: the leg's bridge, made sure of

    @classmethod
    def from_dict(cls, data):
        return data if isinstance(data, cls) else cls(**data)

    def to_dict(self):
        return asdict(self)

    @property
    def state_dir(self):
        return os.path.join(self.state_root, self.name)

    @property
    def leg_mac(self):
        """The leg's MAC: given, or derived from the name, so a rebuilt router keeps it and guests'
        ARP caches stay right (a new random MAC would black-hole them until their entries expire)."""
        if self.mac:
            return self.mac
        digest = hashlib.sha256(self.name.encode()).digest()
        return ":".join(f"{b:02x}" for b in (0x02,) + tuple(digest[:5]))

    def path(self, name):
        return os.path.join(self.state_dir, name)


def _dnsmasq_pid(spec):
    pid = links.read_pid(spec.path("dnsmasq.pid"))
    return pid if pid and links.pid_alive(pid, marker=spec.path("dnsmasq.conf")) else None


def _leg_ok(spec):
    """The leg is on its bridge and the inner end holds the address (two `ip` processes: this runs at
    every update of the router, i.e. for nearly every VM that starts)."""
    shown = links.ip("-4", "-o", "addr", "show", "dev", spec.inner, netns=spec.name, check=False)
    if shown.returncode != 0 or f" {spec.address} " not in shown.stdout:
        return False
    return links.link_master(spec.leg, netns=spec.host_netns) == spec.bridge


def ensure_router(spec):
    """Converge the router to `spec`; returns the repairs made ([] when nothing was wrong)."""
    spec = RouterSpec.from_dict(spec)
    done = []
    os.makedirs(spec.state_dir, mode=0o700, exist_ok=True)
    if spec.l2_networks:
        from .network import ensure_bridges  # pyroute2: a heavy import the management side never needs

        ensure_bridges(spec.l2_networks)
    if not links.netns_exists(spec.name):
        links.ensure_netns(spec.name)
        done.append("namespace")
    if not _leg_ok(spec):
        links.delete_link(spec.inner, netns=spec.name)
        links.veth_into(spec.leg, host_netns=spec.host_netns, bridge=spec.bridge, inner_netns=spec.name,
                        inner_dev=spec.inner, mac=spec.leg_mac)
        links.ip("addr", "replace", spec.address, "dev", spec.inner, netns=spec.name)
        done.append("leg")
    changed = {name for name, text in spec.files.items() if links.write_file(spec.path(name), text)}
    pid = _dnsmasq_pid(spec)
    if pid and ("leg" in done or changed - set(RELOADABLE)):
        # A new leg or a new configuration: dnsmasq binds and reads its config only at start.
        links.stop_pid(pid, marker=spec.path("dnsmasq.conf"))
        pid = None
        done.append("dnsmasq restarted")
    if not pid:
        links.run(["ip", "netns", "exec", spec.name, DNSMASQ, f"--conf-file={spec.path('dnsmasq.conf')}"])
        if "dnsmasq restarted" not in done:
            done.append("dnsmasq")
    elif changed:
        os.kill(pid, signal.SIGHUP)
        done.append("dnsmasq reloaded")
    return done


def router_status(spec):
    spec = RouterSpec.from_dict(spec)
    has_ns = links.netns_exists(spec.name)
    parts = {"namespace": has_ns, "leg": has_ns and _leg_ok(spec), "dnsmasq": bool(_dnsmasq_pid(spec))}
    state = "Running" if all(parts.values()) else ("Stopped" if not any(parts.values()) else "Degraded")
    return {"state": state, "parts": parts}


def leases(spec):
    """[{mac, ip, hostname}] from dnsmasq's lease file."""
    spec = RouterSpec.from_dict(spec)
    result = []
    try:
        with open(spec.path("leases")) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 4:
                    result.append({"mac": parts[1], "ip": parts[2], "hostname": "" if parts[3] == "*" else parts[3]})
    except FileNotFoundError:
        pass
    return result


def destroy_router(spec):
    """Stop dnsmasq, remove the namespace, the leg and the state directory."""
    spec = RouterSpec.from_dict(spec)
    links.stop_pid(_dnsmasq_pid(spec), marker=spec.path("dnsmasq.conf"))
    links.delete_link(spec.leg, netns=spec.host_netns)
    links.delete_netns(spec.name)
    shutil.rmtree(spec.state_dir, ignore_errors=True)
