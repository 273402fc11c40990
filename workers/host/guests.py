"""Namespace guests: light VMs for sandbox hosts (a network namespace, a DHCP client, an sshd).

A namespace guest is a network namespace `<name>` with one veth per NIC whose peer sits on the
NIC's bridge inside the host's namespace. Inside it run a real DHCP client (busybox udhcpc with a
script that sets the address, default route, resolver and host name) and a real OpenSSH sshd
with its own host key, accepting root with the given key and password.

Three kernel features make it feel like a machine without touching the machine:
- `ip netns exec` bind-mounts `/etc/netns/<name>/{resolv.conf,hostname,shadow}` over `/etc/...`
  for every process it starts, so the guest's resolver and root password are its own;
- a UTS namespace of its own gives the guest its host name: the first guest process (sshd) is
  started in a new one, and every later process enters it through `/proc/<pid>/ns/uts` of a live
  guest process (no bind mount: those would stay inside the caller's mount namespace, and the
  agent of a sandbox host runs in one of its own);
- PID files written by the daemons let stop() end exactly the processes started here.

Libvirt guests live in `workers/host/domains.py`. No Django import here.
"""

import os
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field

from . import links
from .ops import payload_operation

STATE_ROOT = "/run/nimbo/guests"
ETC_NETNS = "/etc/netns"
SSHD = "/usr/sbin/sshd"
DAEMON_START_TIMEOUT = 10  # seconds for sshd and the DHCP clients to write their pid files

UDHCPC_SCRIPT = """#!/bin/sh
# Called by udhcpc with deconfig|bound|renew|leasefail|nak; variables come from the lease.
STATE="{state}"
case "$1" in
deconfig)
  ip -4 addr flush dev "$interface"
  ip link set "$interface" up
  rm -f "$STATE/lease.$interface"
  ;;
bound|renew)
  if [ "$(cat "$STATE/lease.$interface" 2>/dev/null)" != "$ip/$mask" ]; then
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
  fi
  if [ "$interface" = "{primary}" ]; then
    [ -n "$router" ] && ip route replace default via "${{router%% *}}" dev "$interface"
    {{ [ -n "$domain" ] && echo "search $domain"; for s in $dns; do echo "nameserver $s"; done; }} > /etc/resolv.conf
    [ -n "$hostname" ] && busybox hostname "$hostname"
  fi
  echo "$ip/$mask" > "$STATE/lease.$interface"
  ;;
esac
exit 0
"""


@dataclass
class GuestNic:
    """One NIC: `dev` is the host-side veth (the NIC's internal name, at most 15 characters)."""

    dev: str
    bridge: str
    mac: str
    inner: str = "eth0"


@dataclass
class NamespaceGuest:
    """Desired state of one namespace guest, as plain data (see `from_dict`)."""

    name: str
    hostname: str
    nics: list = field(default_factory=list)
    host_netns: str | None = None
    authorized_keys: str = ""
    root_password: str | None = None
    state_root: str = STATE_ROOT
    l2_networks: list = field(default_factory=list)  # [{"interface", "vlan"}]: its NICs' bridges, made sure of

    @classmethod
    def from_dict(cls, data):
        data = dict(data)
        data["nics"] = [n if isinstance(n, GuestNic) else GuestNic(**n) for n in data.get("nics", [])]
        return cls(**data)

    def to_dict(self):
        return asdict(self)

    @property
    def state_dir(self):
        return os.path.join(self.state_root, self.name)

    def path(self, *parts):
        return os.path.join(self.state_dir, *parts)

    @property
    def etc_dir(self):
        return os.path.join(ETC_NETNS, self.name)


def _uts_holder(spec):
    """A live guest process whose UTS namespace is the guest's, or None."""
    return _sshd_pid(spec) or next((p for p in (_udhcpc_pid(spec, n) for n in spec.nics) if p), None)


def exec_prefix(spec):
    """The command prefix that runs a command as the guest: its namespace, /etc files and host name."""
    holder = _uts_holder(spec)
    if holder is None:
        raise RuntimeError(f"Guest {spec.name} is not running.")
    return ["ip", "netns", "exec", spec.name, "nsenter", f"--uts=/proc/{holder}/ns/uts", "--"]


def run_in(spec, *cmd, timeout=30, via=()):
    """Run `cmd` inside the guest; the CompletedProcess (text).

    `via`: a prefix to reach the mount namespace the guest was made in, e.g. `nsenter --mount=...`
    of a sandbox host's agent (namespaces named by a process in another mount namespace are only
    visible there).
    """
    spec = spec if isinstance(spec, NamespaceGuest) else NamespaceGuest.from_dict(spec)
    return subprocess.run([*via, *exec_prefix(spec), *cmd], capture_output=True, text=True, timeout=timeout)


def _password_hash(password):
    if not password:
        return "*"
    return links.run(["openssl", "passwd", "-6", "-stdin"], input=password).stdout.strip()


def _sshd_config(spec):
    lines = [
        "Port 22",
        "ListenAddress 0.0.0.0",
        f"HostKey {spec.path('ssh_host_ed25519_key')}",
        f"PidFile {spec.path('sshd.pid')}",
        f"AuthorizedKeysFile {spec.path('authorized_keys')}",
        "PermitRootLogin yes",
        f"PasswordAuthentication {'yes' if spec.root_password else 'no'}",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "UseDNS no",
        "PrintMotd no",
        "Subsystem sftp internal-sftp",
        # A session whose client vanished (its namespace deleted) ends instead of lingering.
        "ClientAliveInterval 10",
        "ClientAliveCountMax 3",
    ]
    return "\n".join(lines) + "\n"


def _prepare_files(spec):
    os.makedirs(spec.state_dir, mode=0o700, exist_ok=True)
    os.makedirs(spec.etc_dir, mode=0o755, exist_ok=True)
    if not os.path.exists(os.path.join(spec.etc_dir, "resolv.conf")):
        links.write_file(os.path.join(spec.etc_dir, "resolv.conf"), "")
    links.write_file(os.path.join(spec.etc_dir, "hostname"), spec.hostname + "\n")
    shadow = os.path.join(spec.etc_dir, "shadow")
    if links.write_file(spec.path("password"), spec.root_password or "", mode=0o600) or not os.path.exists(shadow):
        links.write_file(shadow, f"root:{_password_hash(spec.root_password)}:19000:0:99999:7:::\n", mode=0o640)
    _ensure_host_key(spec)
    links.write_file(spec.path("authorized_keys"), spec.authorized_keys.strip() + "\n", mode=0o600)
    links.write_file(spec.path("sshd_config"), _sshd_config(spec), mode=0o600)
    primary = spec.nics[0].inner if spec.nics else "eth0"
    links.write_file(spec.path("udhcpc.sh"), UDHCPC_SCRIPT.format(state=spec.state_dir, primary=primary), mode=0o700)


def _ensure_host_key(spec):
    """The guest's own SSH host key, made once (kept across stops)."""
    key = spec.path("ssh_host_ed25519_key")
    if os.path.exists(key):
        return
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    except ImportError:  # a host without the library: the same key from ssh-keygen (5 ms more)
        links.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", spec.hostname, "-f", key])
        return
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    links.write_file(f"{key}.pub", f"{public.decode()} {spec.hostname}\n")
    links.write_file(key, private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                                serialization.NoEncryption()).decode(), mode=0o600)


def _sshd_pid(spec):
    pid = links.read_pid(spec.path("sshd.pid"))
    return pid if pid and links.pid_alive(pid, marker=spec.path("sshd_config")) else None


def _udhcpc_pidfile(spec, nic):
    return spec.path(f"udhcpc.{nic.inner}.pid")


def _udhcpc_pid(spec, nic):
    pid = links.read_pid(_udhcpc_pidfile(spec, nic))
    return pid if pid and links.pid_alive(pid, marker=spec.path("udhcpc.sh")) else None


@payload_operation("guests.start")
def start(spec):
    """Bring the guest to running; repairs whatever part is missing. Returns what it did.

    Few processes on the way (each `ip` or helper costs 1.5-2 ms, and many guests start at once):
    the namespace, one `ip` batch on each side of the NICs, then one shell in the guest that starts
    sshd and every DHCP client.
    """
    spec = spec if isinstance(spec, NamespaceGuest) else NamespaceGuest.from_dict(spec)
    done = []
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    _prepare_files(spec)
    if spec.l2_networks:
        from .network import ensure_bridges  # pyroute2: a heavy import the management side never needs

        ensure_bridges(spec.l2_networks)
    fresh = not links.netns_exists(spec.name)
    if fresh:
        links.run(["ip", "netns", "add", spec.name])
        done.append("namespace")
    loopback = ["link set lo up"] if fresh else []
    for nic in spec.nics:
        if fresh or not links.link_exists(nic.inner, netns=spec.name) or \
                not links.link_exists(nic.dev, netns=spec.host_netns):
            if not fresh:
                links.delete_link(nic.inner, netns=spec.name)
            links.veth_into(nic.dev, host_netns=spec.host_netns, bridge=nic.bridge, inner_netns=spec.name,
                            inner_dev=nic.inner, mac=nic.mac, inner_commands=loopback)
            loopback = []
            done.append(f"nic {nic.dev}")
    if loopback:
        links.ip("link", "set", "lo", "up", netns=spec.name)
    sshd = not _sshd_pid(spec)
    clients = [nic for nic in spec.nics if not _udhcpc_pid(spec, nic)]
    if sshd or clients:
        _start_daemons(spec, sshd, clients)
        ready = _wait_for(lambda: (not sshd or _sshd_pid(spec)) and all(_udhcpc_pid(spec, n) for n in clients),
                          DAEMON_START_TIMEOUT, interval=0.005)
        if not ready:
            raise links.HostCommandError(f"Guest {spec.name}: sshd or its DHCP client did not start within "
                                         f"{DAEMON_START_TIMEOUT} s (see {spec.state_dir}/*.log).")
        done += (["sshd"] if sshd else []) + [f"dhcp {nic.inner}" for nic in clients]
    return done


def _start_daemons(spec, sshd, clients):
    """Start sshd and/or the DHCP clients of `clients` from one shell inside the guest.

    Its first process gets a new UTS namespace holding the guest's host name; later ones join the
    one of a live guest process. The DHCP clients leave the shell with `setsid -f`: they outlive
    this call without becoming anyone's child to reap; sshd daemonizes by itself.
    """
    lines = []
    if sshd:
        lines.append(shlex.join([SSHD, "-f", spec.path("sshd_config"), "-E", spec.path("sshd.log")]))
    for nic in clients:
        client = ["setsid", "-f", "busybox", "udhcpc", "-f", "-R", "-i", nic.inner, "-s", spec.path("udhcpc.sh"),
                  "-p", _udhcpc_pidfile(spec, nic), "-x", f"hostname:{spec.hostname}", "-t", "3", "-T", "1",
                  "-A", "1"]
        log = shlex.quote(spec.path(f"udhcpc.{nic.inner}.log"))
        lines.append(f"{shlex.join(client)} </dev/null >>{log} 2>&1")
    script = "\n".join(lines)
    if _uts_holder(spec):
        links.run(exec_prefix(spec) + ["/bin/sh", "-ec", script])
    else:
        links.run(["ip", "netns", "exec", spec.name, "unshare", "--uts", "--", "/bin/sh", "-ec",
                   'busybox hostname "$1"\n' + script, "sh", spec.hostname])


def _wait_for(predicate, timeout, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def addresses(spec):
    """{inner dev: "ip/prefix"} of the leases the guest holds now."""
    spec = spec if isinstance(spec, NamespaceGuest) else NamespaceGuest.from_dict(spec)
    result = {}
    for nic in spec.nics:
        try:
            with open(spec.path(f"lease.{nic.inner}")) as f:
                result[nic.inner] = f.read().strip()
        except FileNotFoundError:
            pass
    return result


def wait_for_address(spec, timeout=15):
    """The primary NIC's address once DHCP gave one, or None after `timeout` seconds."""
    spec = spec if isinstance(spec, NamespaceGuest) else NamespaceGuest.from_dict(spec)
    primary = spec.nics[0].inner
    return _wait_for(lambda: addresses(spec).get(primary), timeout, interval=0.05)


def renew(spec):
    """Ask every DHCP client of the guest to renew its lease now."""
    spec = spec if isinstance(spec, NamespaceGuest) else NamespaceGuest.from_dict(spec)
    for nic in spec.nics:
        pid = _udhcpc_pid(spec, nic)
        if pid:
            os.kill(pid, signal.SIGUSR1)


def status(spec):
    """Running when the namespace, its NICs, sshd and DHCP clients are all there; Stopped when none."""
    spec = spec if isinstance(spec, NamespaceGuest) else NamespaceGuest.from_dict(spec)
    has_ns = links.netns_exists(spec.name)
    parts = {
        "namespace": has_ns,
        "nics": has_ns and all(links.link_exists(n.inner, netns=spec.name) for n in spec.nics),
        "sshd": bool(_sshd_pid(spec)),
        "dhcp": bool(spec.nics) and all(_udhcpc_pid(spec, n) for n in spec.nics),
    }
    state = "Running" if all(parts.values()) else ("Stopped" if not any(parts.values()) else "Degraded")
    return {"state": state, "parts": parts, "addresses": addresses(spec) if has_ns else {}}


@payload_operation("guests.stop")
def stop(spec):
    """End the guest's processes and remove its namespace and links; keeps its host key for the next start."""
    spec = spec if isinstance(spec, NamespaceGuest) else NamespaceGuest.from_dict(spec)
    for nic in spec.nics:
        links.stop_pid(_udhcpc_pid(spec, nic), marker=spec.path("udhcpc.sh"))
    links.stop_pid(_sshd_pid(spec), marker=spec.path("sshd_config"))
    if links.netns_exists(spec.name):
        # What is left in the namespace was started by the guest's sshd (login sessions).
        for pid in links.pids_in_netns(spec.name):
            links.stop_pid(pid, timeout=1.0)
    for nic in spec.nics:
        links.delete_link(nic.dev, netns=spec.host_netns)
    links.delete_netns(spec.name)
    for name in os.listdir(spec.state_dir) if os.path.isdir(spec.state_dir) else []:
        if name.startswith("lease.") or name.endswith(".pid"):
            os.unlink(spec.path(name))


@payload_operation("guests.destroy")
def destroy(spec):
    """Stop the guest and remove every file it had."""
    spec = spec if isinstance(spec, NamespaceGuest) else NamespaceGuest.from_dict(spec)
    stop(spec)
    shutil.rmtree(spec.state_dir, ignore_errors=True)
    shutil.rmtree(spec.etc_dir, ignore_errors=True)
