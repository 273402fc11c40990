"""Small, idempotent steps on namespaces and links, shared by guests and routers.

Everything goes through the `ip` tool with `-n <namespace>`, so nothing here ever touches the
root namespace unless a caller passes `netns=None` on purpose (a KVM host whose bridges live in
the root namespace). No Django import here: this runs on hosts.
"""

import os
import signal
import subprocess
import time

NETNS_DIR = "/run/netns"


class HostCommandError(RuntimeError):
    """A command on the host failed; the message carries its stderr."""


def run(args, *, check=True, input=None, timeout=30):
    proc = subprocess.run(args, input=input, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise HostCommandError(f"{' '.join(args)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def ip(*args, netns=None, check=True):
    prefix = ["ip", "-n", netns] if netns else ["ip"]
    return run(prefix + list(args), check=check)


def ip_batch(commands, *, netns=None):
    """Run many `ip` commands in one process (much faster than one process each)."""
    if not commands:
        return
    prefix = ["ip", "-n", netns] if netns else ["ip"]
    run(prefix + ["-batch", "-"], input="\n".join(commands) + "\n")


def netns_exists(name):
    return os.path.exists(os.path.join(NETNS_DIR, name))


def ensure_netns(name):
    if not netns_exists(name):
        run(["ip", "netns", "add", name])
        ip("link", "set", "lo", "up", netns=name)


def delete_netns(name):
    if netns_exists(name):
        run(["ip", "netns", "delete", name], check=False)


def link_exists(dev, *, netns=None):
    return ip("link", "show", "dev", dev, netns=netns, check=False).returncode == 0


def link_master(dev, *, netns=None):
    """The bridge `dev` is enslaved to, or None."""
    out = ip("-o", "link", "show", "dev", dev, netns=netns, check=False).stdout
    parts = out.split()
    return parts[parts.index("master") + 1] if "master" in parts else None


def delete_link(dev, *, netns=None):
    if link_exists(dev, netns=netns):
        ip("link", "delete", "dev", dev, netns=netns, check=False)


def veth_into(outer_dev, *, host_netns, bridge, inner_netns, inner_dev, mac=None, inner_commands=()):
    """A veth with `outer_dev` on `bridge` in `host_netns` and `inner_dev` (up) in `inner_netns`.

    Two `ip` processes in all (each costs 1.5-2 ms): one batch on each side, the MAC given as the
    peer is made. A stale `outer_dev` (a guest that was not stopped cleanly) is replaced.
    `inner_commands`: more `ip` commands for the inner namespace's batch (e.g. "link set lo up").
    """
    peer = f"peer name {inner_dev}" + (f" address {mac}" if mac else "") + f" netns {inner_netns}"
    outer = [f"link add {outer_dev} type veth {peer}", f"link set {outer_dev} master {bridge}",
             f"link set {outer_dev} up"]
    try:
        ip_batch(outer, netns=host_netns)
    except HostCommandError:
        if not link_exists(outer_dev, netns=host_netns):
            raise
        ip("link", "delete", "dev", outer_dev, netns=host_netns)
        ip_batch(outer, netns=host_netns)
    ip_batch([*inner_commands, f"link set {inner_dev} up"], netns=inner_netns)


def pid_alive(pid, *, marker=None):
    """True if `pid` runs and, when given, its command line contains `marker` (guards against reuse)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    except (FileNotFoundError, IndexError):
        return False
    return marker is None or marker in cmdline


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0) or None
    except (FileNotFoundError, ValueError):
        return None


def stop_pid(pid, *, marker=None, timeout=3.0):
    """SIGTERM, then SIGKILL after `timeout`; only if the process is still the one we started."""
    if not pid or not pid_alive(pid, marker=marker):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def pids_in_netns(name):
    """PIDs of processes whose network namespace is `name` (what `ip netns pids` lists)."""
    out = run(["ip", "netns", "pids", name], check=False).stdout
    return [int(p) for p in out.split()]


def write_file(path, text, mode=0o644):
    """Write `text` if it differs; True if the file changed."""
    try:
        with open(path) as f:
            if f.read() == text:
                return False
    except FileNotFoundError:
        pass
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True
