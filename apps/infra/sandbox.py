"""Sandbox hosts: the "hardware" of a hypervisor host, built from network namespaces on this machine.

A sandbox host is the network namespace `nimbo-h-<8 hex>`:

- its management address sits on its loopback, and its own sshd listens there (started with
  `ip netns exec`, which also bind-mounts /etc/netns/<ns>/shadow over /etc/shadow for it, so the
  host has its own root password without touching the machine's);
- its "physical" interface eth0 is a veth into the sandbox physical network: the namespace
  `nimbo-phys-<6 hex>` (one per installation, named after its var/ directory) holding the
  switch: the bridge `br-phys` for untagged traffic and one bridge `br-v<vlan>` per VLAN;
- VLANs cross hosts through that switch. A sandbox host's `eth0.<vlan>` is its own wire into
  `br-v<vlan>` (created by the agent, workers/host/network.py) rather than an 802.1Q
  sub-interface: it works on kernels built without 802.1Q VLAN devices and VLAN-filtering
  bridges, and keeps VLANs apart exactly as a trunk does. Real hosts use 802.1Q sub-interfaces;
- a person joins that physical network from a client namespace (`manage.py sandbox_shell`).

Nothing here touches the machine's own interfaces, routes or firewall. The add-host job then
treats the namespace like any host: SSH, Ansible, the agent (which runs inside the namespace).
"""

import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings

from apps.core.exceptions import JobFailed

PHYS_BRIDGE = "br-phys"
NETNS_ETC = Path("/etc/netns")


class SandboxError(JobFailed):
    """A sandbox host could not be built or changed (the command and its error say why)."""


def phys_netns():
    """The physical-network namespace of this installation (tests get their own via their var/)."""
    return "nimbo-phys-" + hashlib.sha1(str(settings.VAR_DIR.resolve()).encode()).hexdigest()[:6]


def machine_dir(ns):
    path = settings.VAR_DIR / "sandbox" / ns
    path.mkdir(parents=True, exist_ok=True)
    return path


def run(*cmd, check=True, input=None):
    proc = subprocess.run(cmd, capture_output=True, text=True, input=input)
    if check and proc.returncode:
        raise SandboxError(f"{' '.join(cmd)}: {proc.stderr.strip() or proc.returncode}")
    return proc


def netns_exists(name):
    return Path("/run/netns", name).exists()


@contextlib.contextmanager
def _lock():
    lock_path = settings.VAR_DIR / "sandbox" / ".lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _port_name(ns):
    # Interface names are at most 15 characters: "vh-" + the 8 hex of the host namespace.
    return "vh-" + ns.rsplit("-", 1)[-1][:8]


def ensure_phys():
    """The physical-network namespace and its VLAN-aware bridge (idempotent)."""
    phys = phys_netns()
    if not netns_exists(phys):
        run("ip", "netns", "add", phys)
        run("ip", "-n", phys, "link", "set", "lo", "up")
    _ensure_bridge(phys, PHYS_BRIDGE)
    return phys


def _ensure_bridge(ns, name):
    if run("ip", "-n", ns, "link", "show", name, check=False).returncode:
        run("ip", "-n", ns, "link", "add", name, "type", "bridge")
        run("ip", "-n", ns, "link", "set", name, "up")


def plug_into_phys(ns, ifname, port, vlan=None):
    """A veth `ifname` in `ns` whose peer `port` is on the untagged bridge, or on VLAN `vlan`'s."""
    phys = ensure_phys()
    bridge = f"br-v{vlan}" if vlan else PHYS_BRIDGE
    _ensure_bridge(phys, bridge)
    have_port = run("ip", "-n", phys, "link", "show", port, check=False).returncode == 0
    if have_port and run("ip", "-n", ns, "link", "show", ifname, check=False).returncode:
        # A port left from an earlier namespace of the same name (still held alive by a process while it
        # was deleted): its other end is not here, so it is replaced.
        run("ip", "-n", phys, "link", "del", port, check=False)
        have_port = False
    if not have_port:
        run("ip", "-n", phys, "link", "add", port, "type", "veth", "peer", "name", ifname, "netns", ns)
        run("ip", "-n", phys, "link", "set", port, "master", bridge)
        run("ip", "-n", phys, "link", "set", port, "up")
    run("ip", "-n", ns, "link", "set", ifname, "up")


def _hash_password(password):
    return run("openssl", "passwd", "-6", "-stdin", input=password + "\n").stdout.strip()


def machine_netns(management_ip):
    """The namespace of the sandbox machine at `management_ip` (in this installation)."""
    return "nimbo-h-" + hashlib.sha1(f"{phys_netns()}/{management_ip}".encode()).hexdigest()[:8]


def ensure_machine(ns, management_ip, root_password, ssh_port=22):
    """Build the sandbox machine `ns`, "installed" with this root password, unless it exists.

    True if it was built now. An existing machine is left as it is, as a real one would be: its
    password and host key stay, and if its sshd was stopped, logging in is refused.
    """
    with _lock():
        if netns_exists(ns):
            return False
        ensure_phys()
        run("ip", "netns", "add", ns)
        run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "-n", ns, "addr", "add", f"{management_ip}/32", "dev", "lo")
        plug_into_phys(ns, "eth0", _port_name(ns))
    etc = NETNS_ETC / ns
    shutil.rmtree(etc, ignore_errors=True)
    etc.mkdir(parents=True)
    fd = os.open(etc / "shadow", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"root:{_hash_password(root_password)}:19000:0:99999:7:::\n")
    key = machine_dir(ns) / "ssh_host_ed25519_key"
    key.unlink(missing_ok=True)
    Path(f"{key}.pub").unlink(missing_ok=True)
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", ns, "-f", str(key))
    start_sshd(ns, management_ip, ssh_port)
    return True


def _sshd_config(ns, management_ip, ssh_port):
    d = machine_dir(ns)
    config = d / "sshd_config"
    config.write_text(
        f"ListenAddress {management_ip}:{ssh_port}\n"
        f"HostKey {d / 'ssh_host_ed25519_key'}\n"
        f"PidFile {d / 'sshd.pid'}\n"
        "PermitRootLogin yes\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\n"
        # No PAM: the password is checked against the namespace's own /etc/shadow.
        "UsePAM no\nAuthorizedKeysFile none\nPrintMotd no\nMaxStartups 50\n"
        "Subsystem sftp internal-sftp\n"
        # A session whose peer vanished with its namespace ends within 30 s instead of lingering.
        "ClientAliveInterval 10\nClientAliveCountMax 3\n"
    )
    return config


def _pid(path):
    try:
        pid = int(Path(path).read_text().split()[0])
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError, IndexError):
        return None


def start_sshd(ns, management_ip, ssh_port=22):
    if _pid(machine_dir(ns) / "sshd.pid"):
        return
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    config = _sshd_config(ns, management_ip, ssh_port)
    run("ip", "netns", "exec", ns, "/usr/sbin/sshd", "-f", str(config))
    for _ in range(50):
        if _pid(machine_dir(ns) / "sshd.pid"):
            return
        time.sleep(0.05)
    raise SandboxError(f"sshd did not start in {ns}")


def _stop_pidfile(path, timeout=5):
    pid = _pid(path)
    if not pid:
        return False
    os.kill(pid, signal.SIGTERM)
    for _ in range(int(timeout / 0.05)):
        if _pid(path) != pid:
            break
        time.sleep(0.05)
    else:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    Path(path).unlink(missing_ok=True)
    return True


def stop_sshd(ns):
    _stop_pidfile(machine_dir(ns) / "sshd.pid")


def regenerate_host_key(ns, management_ip, ssh_port=22):
    """What reinstalling the machine does to its SSH identity (used to show the host key check)."""
    stop_sshd(ns)
    key = machine_dir(ns) / "ssh_host_ed25519_key"
    key.unlink(missing_ok=True)
    Path(f"{key}.pub").unlink(missing_ok=True)
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", ns, "-f", str(key))
    start_sshd(ns, management_ip, ssh_port)


def agent_pidfile(ns):
    return machine_dir(ns) / "agent.pid"


def agent_command(host_uuid, redis_url, heartbeat=None):
    cmd = [sys.executable, "-m", "workers.host.agent", "--host-uuid", str(host_uuid), "--redis-url", redis_url,
           "--sandbox-phys", phys_netns(), "--machine-netns", f"/proc/{os.getpid()}/ns/net"]
    if heartbeat:
        cmd += ["--heartbeat", str(heartbeat)]
    return cmd


def start_agent(ns, host_uuid, redis_url, heartbeat=None):
    """Start the agent inside the namespace (what the playbook's service step does on a sandbox)."""
    pidfile = agent_pidfile(ns)
    if _pid(pidfile):
        return
    log = open(machine_dir(ns) / "agent.log", "ab")
    # Only the network namespace: the agent shares this machine's mount namespace (see host.yml).
    proc = subprocess.Popen(
        ["nsenter", f"--net=/run/netns/{ns}", "--", *agent_command(host_uuid, redis_url, heartbeat)],
        cwd=settings.BASE_DIR, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    pidfile.write_text(str(proc.pid))


def stop_agent(ns):
    return _stop_pidfile(agent_pidfile(ns))


def destroy_machine(ns):
    """Remove the sandbox host: its processes, namespace, /etc/netns entry and state directory."""
    stop_agent(ns)
    stop_sshd(ns)
    if netns_exists(ns):
        # Whatever still runs in the namespace was started by Nimbo for this host (dnsmasq, guests).
        for pid in run("ip", "netns", "pids", ns, check=False).stdout.split():
            with contextlib.suppress(OSError):
                os.kill(int(pid), signal.SIGKILL)
        run("ip", "netns", "del", ns, check=False)
    shutil.rmtree(NETNS_ETC / ns, ignore_errors=True)
    shutil.rmtree(settings.VAR_DIR / "sandbox" / ns, ignore_errors=True)


def destroy_phys():
    """Remove the physical network and every client namespace plugged into it."""
    for ns in list_netns(prefix="nimbo-c-" + phys_netns()[-6:]):
        run("ip", "netns", "del", ns, check=False)
    if netns_exists(phys_netns()):
        run("ip", "netns", "del", phys_netns(), check=False)


def list_netns(prefix):
    root = Path("/run/netns")
    return sorted(p.name for p in root.iterdir() if p.name.startswith(prefix)) if root.exists() else []


def ensure_client(name, address, vlan=None, gateway=None):
    """A client namespace on the physical network (untagged, or on VLAN `vlan`).

    `address` is "198.51.100.250/24"; the namespace is `nimbo-c-<phys id>-<name>`.
    """
    ns = f"nimbo-c-{phys_netns()[-6:]}-{name}"
    with _lock():
        if not netns_exists(ns):
            run("ip", "netns", "add", ns)
            run("ip", "-n", ns, "link", "set", "lo", "up")
        port = "vc-" + hashlib.sha1(ns.encode()).hexdigest()[:8]
        plug_into_phys(ns, "eth0", port, vlan=vlan)
        if address.split("/")[0] not in run("ip", "-n", ns, "-4", "addr", "show", "dev", "eth0").stdout:
            run("ip", "-n", ns, "addr", "add", address, "dev", "eth0")
        if gateway:
            run("ip", "-n", ns, "route", "replace", "default", "via", gateway)
    return ns


def netns_for_address(address):
    """The namespace from which the management side reaches `address` when it lies on a sandbox
    network, else "" (the machine's own routes).

    A sandbox machine's address is reached from inside that machine (its namespace holds the address);
    an address in an IP range of a sandbox cluster's L3 network from the namespace of that L3's virtual
    router (its leg sits on that network). An address of a sandbox network that neither reaches is
    refused: a connection through the machine's own routes would leave the machine.
    """
    import ipaddress

    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ""
    if netns_exists(machine_netns(str(ip))):
        return machine_netns(str(ip))
    from apps.infra.choices import HypervisorType
    from apps.networks.models import IpRange
    from apps.vrouter.models import VirtualRouter

    if ip.version != 4:
        return ""
    ranges = IpRange.objects.filter(
        l3_network__l2_network__clusters__hypervisor_type=HypervisorType.SANDBOX).select_related("l3_network")
    for ip_range in ranges:
        if ip in ipaddress.ip_network(f"{ip_range.gateway}/{ip_range.netmask}", strict=False):
            router = VirtualRouter.objects.filter(l3_network=ip_range.l3_network).exclude(namespace="").first()
            if router is not None and netns_exists(router.namespace):
                return router.namespace
            raise SandboxError(f"{address} is on the sandbox network {ip_range.l3_network.name}, which has no "
                               "running virtual router to reach it through.")
    return ""
