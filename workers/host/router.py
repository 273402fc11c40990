"""The virtual router on a host: a network namespace with a private leg on the L3's bridge running
dnsmasq and, for an L3 that takes SNAT, port forwarding or EIPs, a public leg on the public L3's bridge
holding the router's public address, its VIPs and the default route.

`ensure_router(spec)` converges: it creates what is missing (namespace, legs, addresses, routes, files,
dnsmasq, the nat and filter tables), reloads dnsmasq with SIGHUP when only its host entries changed,
restarts it when its configuration changed, changes only the NAT rules that differ (deleting the
conntrack entries of removed ones, so a session through a detached rule stops), and does nothing when
all is right. It returns what it did; the parts that had to be rebuilt are what the periodic check
reports as drift. `destroy_router(spec)` removes every trace.

The files and tables come compiled (see apps/vrouter/compile.py); this module only places them.
Everything runs inside the router's namespace, so the host's own interfaces are never touched.
No Django import here.
"""

import hashlib
import ipaddress
import os
import re
import shutil
import signal
import subprocess
from dataclasses import asdict, dataclass, field

from . import links
from .ops import payload_operation

STATE_ROOT = "/run/nimbo/routers"
DNSMASQ = "/usr/sbin/dnsmasq"
RELOADABLE = ("dhcp-hosts", "hosts")
BUILTIN_CHAINS = {"nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"), "filter": ("INPUT", "FORWARD", "OUTPUT")}
SYSCTLS = {"net/ipv4/ip_forward": "1", "net/ipv4/conf/all/send_redirects": "0"}
# Removed rules' conntrack entries are deleted port by port up to this many ports; a wider range is
# cleared for the whole VIP and protocol.
CONNTRACK_PORTS_MAX = 64


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
    mac_seed: str = ""  # what the legs' MACs derive from (the same wherever the router runs); "" = name
    state_root: str = STATE_ROOT
    l2_networks: list = field(default_factory=list)  # [{"interface", "vlan"}]: the legs' bridges, made sure of
    # The public leg: {"bridge", "leg" (host side), "address" ("198.51.100.231/24"), "gateway"}; None: no leg.
    public: dict | None = None
    public_inner: str = "eth1"
    vips: list = field(default_factory=list)  # addresses held as /32s on the public leg
    tables: dict | None = None  # {"nat": {chain: [rule]}, "filter": {...}}; None: leave the tables alone

    @classmethod
    def from_dict(cls, data):
        return data if isinstance(data, cls) else cls(**data)

    def to_dict(self):
        return asdict(self)

    @property
    def state_dir(self):
        return os.path.join(self.state_root, self.name)

    def _mac(self, part=""):
        digest = hashlib.sha256(f"{self.mac_seed or self.name}{part}".encode()).digest()
        return ":".join(f"{b:02x}" for b in (0x02,) + tuple(digest[:5]))

    @property
    def leg_mac(self):
        """The private leg's MAC: given, or derived from the router (`mac_seed`, else its name), so a rebuilt
        or moved router keeps it and guests' ARP caches stay right (a new random MAC would black-hole them
        until their entries expire)."""
        return self.mac or self._mac()

    @property
    def public_mac(self):
        return self._mac("/public")

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


@payload_operation("router.ensure_router")
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
        if spec.public:  # a moved or rebuilt gateway: guests and switches learn where it is now
            _announce(spec, spec.address.split("/")[0], spec.inner)
        done.append("leg")
    if spec.public and ("namespace" in done or not _sysctls_ok(spec)):
        _set_sysctls(spec)
        if "namespace" not in done:
            done.append("forwarding")
    if spec.public:
        done += _ensure_public(spec)
    if spec.tables is not None:
        done += _ensure_tables(spec)
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
    if spec.public:
        parts["public leg"] = has_ns and _public_addresses(spec) is not None
    if spec.tables is not None:
        parts["nat"] = has_ns and not any(table_changes(t, spec.tables.get(t, {}), live)[0]
                                          for t, live in read_tables(spec).items())
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


@payload_operation("router.destroy_router")
def destroy_router(spec):
    """Stop dnsmasq, remove the namespace, the leg and the state directory."""
    spec = RouterSpec.from_dict(spec)
    links.stop_pid(_dnsmasq_pid(spec), marker=spec.path("dnsmasq.conf"))
    links.delete_link(spec.leg, netns=spec.host_netns)
    if spec.public:
        links.delete_link(spec.public["leg"], netns=spec.host_netns)
    links.delete_netns(spec.name)
    shutil.rmtree(spec.state_dir, ignore_errors=True)


# --- Forwarding, the public leg and its VIPs ------------------------------------------------------------


def _in_ns(spec, *args, check=True, input=None):
    return links.run(["ip", "netns", "exec", spec.name, *args], check=check, input=input)


def _ns_sysctls(spec):
    """The namespace's own values, read through a process inside it (one `cat` for all keys)."""
    keys = list(SYSCTLS)
    out = _in_ns(spec, "cat", *[f"/proc/sys/{k}" for k in keys], check=False).stdout.split()
    return dict(zip(keys, out))


def _set_sysctls(spec):
    _in_ns(spec, "sysctl", "-q", "-w", *[f"{k.replace('/', '.')}={v}" for k, v in SYSCTLS.items()])


def _sysctls_ok(spec):
    live = _ns_sysctls(spec)
    return all(live.get(k) == v for k, v in SYSCTLS.items())


def _public_addresses(spec):
    """The addresses on the public leg as {"a.b.c.d/len"}, or None when the leg is not right."""
    shown = links.ip("-4", "-o", "addr", "show", "dev", spec.public_inner, netns=spec.name, check=False)
    if shown.returncode != 0:
        return None
    addresses = set(re.findall(r"\binet (\S+)", shown.stdout))
    if spec.public["address"] not in addresses:
        return None
    if links.link_master(spec.public["leg"], netns=spec.host_netns) != spec.public["bridge"]:
        return None
    return addresses


def _announce(spec, ip, dev=None):
    """A gratuitous ARP for `ip` on the public leg (or `dev`), so the network learns at once where it is (not
    waited for)."""
    subprocess.Popen(["ip", "netns", "exec", spec.name, "arping", "-q", "-U", "-c", "1", "-w", "1",
                      "-I", dev or spec.public_inner, "-s", ip, ip],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _ensure_public(spec):
    done = []
    pub = spec.public
    addresses = _public_addresses(spec)
    if addresses is None:
        links.delete_link(spec.public_inner, netns=spec.name)
        links.veth_into(pub["leg"], host_netns=spec.host_netns, bridge=pub["bridge"], inner_netns=spec.name,
                        inner_dev=spec.public_inner, mac=spec.public_mac)
        links.ip("addr", "replace", pub["address"], "dev", spec.public_inner, netns=spec.name)
        _announce(spec, pub["address"].split("/")[0])
        addresses = {pub["address"]}
        done.append("public leg")
    route = links.ip("-4", "route", "show", "default", netns=spec.name, check=False).stdout.split()
    want_gw = pub.get("gateway")
    if want_gw and route[2:5] != [want_gw, "dev", spec.public_inner]:
        links.ip("route", "replace", "default", "via", want_gw, "dev", spec.public_inner, netns=spec.name)
        if "public leg" not in done:
            done.append("default route")
    want = {f"{ipaddress.IPv4Address(v)}/32" for v in spec.vips}
    have = {a for a in addresses if a.endswith("/32")} - {pub["address"]}
    commands = [f"addr add {a} dev {spec.public_inner}" for a in sorted(want - have)]
    commands += [f"addr del {a} dev {spec.public_inner}" for a in sorted(have - want)]
    if commands:
        links.ip_batch(commands, netns=spec.name)
        for a in sorted(want - have):
            _announce(spec, a[:-3])
        done += [f"VIP {a[:-3]} added" for a in sorted(want - have)]
        done += [f"VIP {a[:-3]} removed" for a in sorted(have - want)]
    return done


# --- The nat and filter tables -----------------------------------------------------------------------


def split_counters(line):
    """`[pkts:bytes] -A ...` (iptables-save -c) -> ("-A ...", (pkts, bytes)); other lines: (line, None)."""
    if line.startswith("["):
        head, _, rest = line.partition("] ")
        pkts, _, size = head[1:].partition(":")
        if pkts.isdigit() and size.isdigit():
            return rest, (int(pkts), int(size))
    return line, None


def parse_save(text, counters=None):
    """iptables-save output -> {table: {chain: [rule]}} (rules as printed, without "-A chain ").

    With a `counters` dict, the text is `iptables-save -c` output and each rule's (pkts, bytes) is
    appended to counters[table][chain] in the rules' order."""
    tables, counts, current = {}, {}, None
    for raw in text.splitlines():
        line, count = split_counters(raw.strip()) if counters is not None else (raw, None)
        if line.startswith("*"):
            name = line[1:].strip()
            current = tables.setdefault(name, {})
            counts = counters.setdefault(name, {}) if counters is not None else {}
        elif current is None or not line or line.startswith("#") or line == "COMMIT":
            continue
        elif line.startswith(":"):
            chain = line[1:].split()[0]
            current.setdefault(chain, [])
            counts.setdefault(chain, [])
        elif line.startswith("-A "):
            chain, _, rule = line[3:].partition(" ")
            current.setdefault(chain, []).append(rule)
            counts.setdefault(chain, []).append(count)
    return tables


def read_tables(spec):
    """The router's live nat and filter tables, in one process."""
    out = _in_ns(spec, "iptables-save", check=False).stdout
    tables = parse_save(out)
    return {t: tables.get(t, {c: [] for c in BUILTIN_CHAINS[t]}) for t in (spec.tables or BUILTIN_CHAINS)}


def table_changes(table, desired, live):
    """(restore lines for `table`, the rules removed from Nimbo's chains) turning `live` into `desired`.

    Nimbo's own chains change rule by rule (their rules never overlap, so order does not matter); the
    built-in chains hold only jumps in a fixed order and are rewritten whole when they differ. Pure."""
    builtin = BUILTIN_CHAINS.get(table, ())
    lines, removed = [], []
    for chain in desired:
        if chain not in builtin and chain not in live:
            lines.append(f":{chain} - [0:0]")  # only new chains: declaring an existing one would flush it
    for chain, rules in desired.items():
        if chain in builtin:
            continue
        have, want = live.get(chain, []), set(rules)
        gone = [r for r in have if r not in want]
        removed += [(chain, r) for r in gone]
        lines += [f"-D {chain} {r}" for r in gone]
        lines += [f"-A {chain} {r}" for r in rules if r not in set(have)]
    for chain in builtin:
        if live.get(chain, []) != desired.get(chain, []):
            lines.append(f"-F {chain}")
            lines += [f"-A {chain} {r}" for r in desired.get(chain, [])]
    for chain in live:
        if chain not in builtin and chain not in desired and chain.startswith("nimbo-"):
            removed += [(chain, r) for r in live[chain]]
            lines += [f"-F {chain}", f"-X {chain}"]
    return lines, removed


_PORTS_RE = re.compile(r"-d (\S+)/32 -p (\w+) -m \w+ --dport (\d+)(?::(\d+))?")
_EIP_DNAT_RE = re.compile(r"^-d (\S+)/32 .*-j DNAT --to-destination (\S+)$")
_EIP_SNAT_RE = re.compile(r"^-s (\S+)/32 .*-j SNAT --to-source (\S+)$")


def conntrack_deletions(removed):
    """`conntrack -D` argument lists that forget the sessions of removed NAT rules. Pure."""
    commands = []
    for _chain, rule in removed:
        ports = _PORTS_RE.search(rule)
        if ports and "-j DNAT" in rule:
            vip, proto, start = ports.group(1), ports.group(2), int(ports.group(3))
            end = int(ports.group(4) or start)
            if end - start + 1 <= CONNTRACK_PORTS_MAX:
                commands += [["-p", proto, "--orig-dst", vip, "--dport", str(p)] for p in range(start, end + 1)]
            else:
                commands.append(["-p", proto, "--orig-dst", vip])
        elif match := _EIP_DNAT_RE.match(rule):
            commands.append(["--orig-dst", match.group(1)])
        elif match := _EIP_SNAT_RE.match(rule):
            commands.append(["--orig-src", match.group(1), "--reply-dst", match.group(2)])
    return commands


def _ensure_tables(spec):
    live = read_tables(spec)
    payload, removed = [], []
    for table, desired in spec.tables.items():
        lines, gone = table_changes(table, desired, live.get(table, {}))
        if lines:
            payload += [f"*{table}", *lines, "COMMIT"]
            removed += gone
    if not payload:
        return []
    _in_ns(spec, "iptables-restore", "-w", "--noflush", input="\n".join(payload) + "\n")
    deletions = conntrack_deletions(removed)
    if deletions:
        script = "; ".join("conntrack -D " + " ".join(args) + " >/dev/null 2>&1" for args in deletions)
        _in_ns(spec, "sh", "-c", script + "; true")
    return ["nat updated"]
