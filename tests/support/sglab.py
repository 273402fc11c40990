"""A sandbox host for security-group tests: a "host" namespace with a bridge and guest
namespaces on veth pairs, each guest running a real OpenSSH server on port 22.

Every name carries a random suffix; `Lab.close()` removes the namespaces and stops the sshd
processes it started (by PID), also when a test fails.
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time

SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
            "-o", "ConnectTimeout=3", "-o", "LogLevel=ERROR"]


def sh(*args, check=True, input=None, timeout=30):
    result = subprocess.run(args, capture_output=True, text=True, input=input, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {result.stderr.strip()}")
    return result


class Guest:
    def __init__(self, lab, name, ip, mac, device):
        self.lab, self.name, self.ip, self.mac, self.device = lab, name, ip, mac, device
        self.ns = f"{lab.prefix}-{name}"
        self.sshd = None

    def run(self, *args, check=False, timeout=30):
        return sh("ip", "netns", "exec", self.ns, *args, check=check, timeout=timeout)

    def ping(self, target, count=1):
        return self.run("ping", "-n", "-c", str(count), "-W", "1", target.ip if isinstance(target, Guest) else target)\
            .returncode == 0

    def tcp(self, target, port=22, timeout=1.5):
        """Connect and read the server's greeting ("SSH-2.0-OpenSSH..." from sshd), or "" if nothing."""
        ip = target.ip if isinstance(target, Guest) else target
        code = (
            "import socket,sys\n"
            f"s=socket.socket(); s.settimeout({timeout})\n"
            f"try:\n s.connect(({ip!r},{port})); print(s.recv(64).decode(errors='replace').strip())\n"
            "except OSError: pass\n"
        )
        return self.run("python3", "-c", code).stdout.strip()

    def ssh(self, target, command="ip -4 -o addr show dev eth0"):
        ip = target.ip if isinstance(target, Guest) else target
        return self.run("ssh", *SSH_OPTS, "-i", self.lab.client_key, f"root@{ip}", command, timeout=20)

    def open_session(self, target):
        """A live SSH session (ssh -T running a shell): send lines with `session_echo`."""
        return subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "ssh", *SSH_OPTS, "-T", "-i", self.lab.client_key,
             f"root@{target.ip}", "sh"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
        )

    def set_ip(self, ip):
        self.run("ip", "addr", "flush", "dev", "eth0", check=True)
        self.run("ip", "addr", "add", f"{ip}/24", "dev", "eth0", check=True)
        self.ip = ip

    def set_mac(self, mac):
        self.run("ip", "link", "set", "eth0", "address", mac, check=True)


# ARP frames written by hand onto the guest's eth0 (AF_PACKET), as a guest that lies would send them.
_ARP_TOOL = r"""
import socket, struct, sys, time
mac = lambda s: bytes.fromhex(s.replace(":", ""))
def frame(op, eth_src, eth_dst, sha, spa, tha, tpa):
    return (mac(eth_dst) + mac(eth_src) + struct.pack("!HHHBBH", 0x0806, 1, 0x0800, 6, 4, op)
            + mac(sha) + socket.inet_aton(spa) + mac(tha) + socket.inet_aton(tpa))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind(("eth0", 0))
if sys.argv[1] == "send":
    s.send(frame(int(sys.argv[2]), *sys.argv[3:9]))
else:  # probe: who answers for an address, asked from 0.0.0.0 as a DHCP client checks its lease
    own, target = sys.argv[2], sys.argv[3]
    s.send(frame(1, own, "ff:ff:ff:ff:ff:ff", own, "0.0.0.0", "00:00:00:00:00:00", target))
    s.settimeout(0.2)
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        try:
            data = s.recv(2048)
        except socket.timeout:
            continue
        if data[20:22] == b"\x00\x02" and data[28:32] == socket.inet_aton(target):
            print(":".join(f"{b:02x}" for b in data[22:28]))
            break
"""


def send_arp(guest, op, *, sender_ip, target_ip, sender_mac=None, eth_src=None, eth_dst="ff:ff:ff:ff:ff:ff",
             target_mac="00:00:00:00:00:00"):
    """One ARP frame from the guest (op 1 request, 2 reply); sender and Ethernet source default to its MAC."""
    sender_mac = sender_mac or guest.mac
    guest.run("python3", "-c", _ARP_TOOL, "send", str(op), eth_src or sender_mac, eth_dst, sender_mac, sender_ip,
              target_mac, target_ip, check=True)


def arp_probe(guest, target_ip):
    """The MAC answering an ARP probe (sender 0.0.0.0) for `target_ip`, or "" if nobody answered."""
    return guest.run("python3", "-c", _ARP_TOOL, "probe", guest.mac, target_ip, check=True).stdout.strip()


def neighbour(run, ip):
    """The MAC a namespace's neighbour table holds for `ip` ("" if none); `run` runs a command there."""
    for line in run("ip", "neigh", "show", ip).stdout.splitlines():
        parts = line.split()
        if "lladdr" in parts:
            return parts[parts.index("lladdr") + 1]
    return ""


def session_echo(proc, text, timeout=3.0):
    """Send `echo text` through an open session; True if the echo came back in time."""
    import selectors

    proc.stdin.write(f"echo {text}\n")
    proc.stdin.flush()
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sel.select(timeout=deadline - time.monotonic()):
            line = proc.stdout.readline()
            return line.strip() == text
    return False


class Lab:
    """`with Lab() as lab: a = lab.guest("a", "10.0.0.2")` builds host + guests; all torn down at exit."""

    def __init__(self, host_ns=None):
        self.prefix = f"sg{secrets.token_hex(3)}"
        self.host = host_ns or f"{self.prefix}-host"
        self.guests = []
        self.tmp = tempfile.mkdtemp(prefix=f"nimbo-{self.prefix}-")
        self.client_key = os.path.join(self.tmp, "id_ed25519")

    def __enter__(self):
        try:
            sh("ip", "netns", "add", self.host)
            self.hrun("ip", "link", "add", "br0", "type", "bridge")
            self.hrun("ip", "link", "set", "br0", "up")
            self.hrun("ip", "link", "set", "lo", "up")
            sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.client_key)
            os.makedirs("/run/sshd", exist_ok=True)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def hrun(self, *args, check=True):
        return sh("ip", "netns", "exec", self.host, *args, check=check)

    def guest(self, name, ip, mac=None, sshd=True, device=None):
        """A guest namespace on the bridge; `device` names its port on the host (a NIC's internal name)."""
        index = len(self.guests) + 2
        mac = mac or f"52:54:00:{secrets.token_hex(1)}:{secrets.token_hex(1)}:{index:02x}"
        device = device or f"{self.prefix}{name}"[:15]
        guest = Guest(self, name, ip, mac, device)
        self.guests.append(guest)
        sh("ip", "netns", "add", guest.ns)
        self.hrun("ip", "link", "add", device, "type", "veth", "peer", "name", "eth0", "netns", guest.ns)
        self.hrun("ip", "link", "set", device, "master", "br0", "up")
        guest.run("ip", "link", "set", "lo", "up", check=True)
        guest.run("ip", "link", "set", "eth0", "address", mac, "up", check=True)
        guest.run("ip", "addr", "add", f"{ip}/24", "dev", "eth0", check=True)
        if sshd:
            self._start_sshd(guest)
        return guest

    def _start_sshd(self, guest):
        base = os.path.join(self.tmp, guest.name)
        os.makedirs(base)
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{base}/host_key")
        shutil.copy(f"{self.client_key}.pub", f"{base}/authorized_keys")
        with open(f"{base}/sshd_config", "w") as fh:
            fh.write(
                f"Port 22\nListenAddress 0.0.0.0\nHostKey {base}/host_key\nPidFile {base}/sshd.pid\n"
                f"AuthorizedKeysFile {base}/authorized_keys\nStrictModes no\nUsePAM no\nPermitRootLogin yes\n"
                "PasswordAuthentication no\nUseDNS no\nPrintMotd no\nClientAliveInterval 10\nClientAliveCountMax 3\n"
            )
        guest.sshd = subprocess.Popen(["ip", "netns", "exec", guest.ns, "/usr/sbin/sshd", "-D", "-e", "-f",
                                       f"{base}/sshd_config"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True)
        for _ in range(50):
            probe = guest.run("python3", "-c", "import socket; socket.create_connection(('127.0.0.1', 22), 1)")
            if probe.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"sshd did not start in {guest.ns}")

    def close(self):
        for guest in self.guests:
            if guest.sshd:
                # sshd and the session processes it forked share the process group we created.
                try:
                    os.killpg(guest.sshd.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    guest.sshd.wait(5)
                except subprocess.TimeoutExpired:
                    os.killpg(guest.sshd.pid, signal.SIGKILL)
            sh("ip", "netns", "del", guest.ns, check=False)
        sh("ip", "netns", "del", self.host, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)
        from workers.host import firewall

        firewall.forget(self.host)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
