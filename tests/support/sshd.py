"""A real OpenSSH server in a test network namespace, reached from another test namespace.

Two namespaces joined by a veth (198.51.100.1 client side, 198.51.100.2 server side); sshd runs
in the server one with password and key login for root. Root's password exists only inside sshd's
private mount namespace (a bind-mounted /etc/shadow), so the machine's accounts are untouched.
The test enters the client namespace with `in_netns()` (this thread only) to reach it.
`<workdir>/small` is a 1 MiB tmpfs in sshd's mount namespace only: a backup storage that fills up.
"""

import contextlib
import ctypes
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.workers import stop_process

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True)


@contextlib.contextmanager
def in_netns(name):
    """Run the body with this thread in network namespace `name`, then return to the original one."""
    with open("/proc/thread-self/ns/net") as original, open(f"/run/netns/{name}") as target:
        if _libc.setns(target.fileno(), CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns failed")
        try:
            yield
        finally:
            if _libc.setns(original.fileno(), CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "could not return to the original network namespace")


@dataclass
class SshServer:
    client_ns: str
    server_ns: str
    host: str
    port: int
    password: str
    private_key: str
    workdir: Path


def _free_port():
    return 20000 + secrets.randbelow(20000)


@contextlib.contextmanager
def sshd_in_namespace():
    suffix = secrets.token_hex(3)
    client_ns, server_ns = f"nimbo-sftpc-{suffix}", f"nimbo-sftps-{suffix}"
    workdir = Path(tempfile.mkdtemp(prefix="nimbo-sshd-"))
    password = "sftp-" + secrets.token_hex(6)
    port = _free_port()
    proc = None
    try:
        _ip("netns", "add", client_ns)
        _ip("netns", "add", server_ns)
        _ip("-n", client_ns, "link", "add", "veth-c", "type", "veth", "peer", "name", "veth-s", "netns", server_ns)
        for ns, dev, addr in ((client_ns, "veth-c", "198.51.100.1/24"), (server_ns, "veth-s", "198.51.100.2/24")):
            _ip("-n", ns, "addr", "add", addr, "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(workdir / "host_key")], check=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(workdir / "client_key")], check=True)
        shutil.copy(workdir / "client_key.pub", workdir / "authorized_keys")
        hashed = subprocess.run(["openssl", "passwd", "-6", password], check=True, capture_output=True,
                                text=True).stdout.strip()
        shadow = workdir / "shadow"
        shadow.write_text(f"root:{hashed}:19000:0:99999:7:::\n")
        shadow.chmod(0o600)
        (workdir / "sshd_config").write_text(
            f"Port {port}\nListenAddress 198.51.100.2\nHostKey {workdir}/host_key\nPidFile {workdir}/sshd.pid\n"
            f"PermitRootLogin yes\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\nUsePAM no\n"
            f"AuthorizedKeysFile {workdir}/authorized_keys\nStrictModes no\nSubsystem sftp internal-sftp\n"
            "ClientAliveInterval 10\nClientAliveCountMax 3\n"
        )
        # A 1 MiB file system at <workdir>/small, seen only by sshd: a backup storage that fills up.
        (workdir / "small").mkdir()
        script = (f"mount --bind {shadow} /etc/shadow && mount -t tmpfs -o size=1m nimbo-test {workdir}/small && "
                  f"exec /usr/sbin/sshd -D -e -f {workdir}/sshd_config")
        proc = subprocess.Popen(["ip", "netns", "exec", server_ns, "unshare", "--mount", "--propagation", "private",
                                 "sh", "-c", script], stdout=subprocess.DEVNULL,
                                stderr=open(workdir / "sshd.log", "wb"), start_new_session=True)
        _wait_listening(client_ns, port, proc, workdir)
        yield SshServer(client_ns, server_ns, "198.51.100.2", port, password,
                        (workdir / "client_key").read_text(), workdir)
    finally:
        if proc is not None:
            stop_process(proc, timeout=5)
        for ns in (client_ns, server_ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_listening(client_ns, port, proc, workdir):
    deadline = time.monotonic() + 10
    with in_netns(client_ns):
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {(workdir / 'sshd.log').read_text()}")
            with socket.socket() as s:
                s.settimeout(0.2)
                if s.connect_ex(("198.51.100.2", port)) == 0:
                    return
            time.sleep(0.05)
    raise RuntimeError(f"sshd did not listen: {(workdir / 'sshd.log').read_text()}")


__all__ = ["SshServer", "in_netns", "sshd_in_namespace"]
