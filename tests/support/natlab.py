"""Boxes for NAT tests: small namespaces on a test host's bridges, with TCP/UDP servers that say who they are.

A `Box` is a namespace with one veth on a bridge of a `HostNamespace`, a static address and a default route.
`serve()` starts a server in it that answers every TCP connection or UDP datagram with "<label> <peer IP>"
(and echoes each later line on a TCP connection, so a session can be watched), `ask()` is one exchange from
a box, `Session` keeps a TCP connection open. Everything lives in namespaces the test made; nothing here
touches the machine's own interfaces.
"""

import subprocess
import sys
import time

from tests.support.dataplane import suffix
from workers.host import links

SERVER = r"""
import socket, sys, threading
label, proto, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if proto == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    while True:
        data, peer = s.recvfrom(2048)
        s.sendto(f"{label} {peer[0]}\n".encode(), peer)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port))
s.listen(64)
def talk(c, peer):
    with c:
        c.sendall(f"{label} {peer[0]}\n".encode())
        for line in c.makefile():
            c.sendall(f"{label} {line.strip()}\n".encode())
while True:
    c, peer = s.accept()
    threading.Thread(target=talk, args=(c, peer), daemon=True).start()
"""

CLIENT = r"""
import socket, sys
proto, ip, port, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
try:
    if proto == "udp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(timeout)
        s.sendto(b"hello\n", (ip, port))
        print(s.recvfrom(2048)[0].decode().strip())
    else:
        s = socket.create_connection((ip, port), timeout=timeout)
        print(s.makefile().readline().strip())
except OSError as exc:
    print(f"error {type(exc).__name__}")
"""


class Box:
    """A namespace with one NIC on `bridge` of `host` (a HostNamespace), address `cidr`, default route `gateway`."""

    def __init__(self, host, bridge, cidr, gateway=None, name=None):
        self.host, self.bridge, self.cidr, self.gateway = host, bridge, cidr, gateway
        self.name = f"nimbo-b-{suffix()}"
        self.dev = f"vb{suffix()}"
        self.procs = []

    @property
    def ip(self):
        return self.cidr.split("/")[0]

    def __enter__(self):
        links.ensure_netns(self.name)
        self.host.on_cleanup(self.close)
        links.veth_into(self.dev, host_netns=self.host.name, bridge=self.bridge, inner_netns=self.name,
                        inner_dev="eth0", inner_commands=["link set lo up"])
        links.ip("addr", "add", self.cidr, "dev", "eth0", netns=self.name)
        if self.gateway:
            links.ip("route", "add", "default", "via", self.gateway, netns=self.name)
        return self

    def exec(self, *cmd, timeout=20, check=False):
        return subprocess.run(["ip", "netns", "exec", self.name, *cmd], capture_output=True, text=True,
                              timeout=timeout, check=check)

    def serve(self, proto, port, label):
        proc = subprocess.Popen(["ip", "netns", "exec", self.name, sys.executable, "-c", SERVER, label, proto,
                                 str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        deadline = time.monotonic() + 5
        flag = "-u" if proto == "udp" else "-t"
        while time.monotonic() < deadline:  # listening before the test talks to it
            if f":{port} " in self.exec("ss", "-Hln", flag).stdout:
                return proc
            time.sleep(0.02)
        raise RuntimeError(f"server {label} did not listen on {proto}/{port}")

    def ask(self, proto, ip, port, timeout=2.0):
        """One exchange: the server's "<label> <peer>" line, or "error <exception>"."""
        out = self.exec(sys.executable, "-c", CLIENT, proto, ip, str(port), str(timeout), timeout=timeout + 10)
        return out.stdout.strip()

    def session(self, ip, port):
        return Session(self, ip, port)

    def close(self):
        for proc in self.procs:
            proc.kill()
            proc.wait()
        links.delete_netns(self.name)


SESSION = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
f = s.makefile()
print(f.readline().strip(), flush=True)
for line in sys.stdin:
    try:
        s.sendall(line.encode())
        s.settimeout(3)
        answer = f.readline().strip()
        print(answer or "closed", flush=True)
    except OSError as exc:
        print(f"error {type(exc).__name__}", flush=True)
"""


class Session:
    """An open TCP connection from a box: `first` is the greeting; `say(text)` the answer or "error ..."."""

    def __init__(self, box, ip, port):
        self.proc = subprocess.Popen(["ip", "netns", "exec", box.name, sys.executable, "-c", SESSION, ip, str(port)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, bufsize=1)
        box.procs.append(self.proc)
        self.first = self.proc.stdout.readline().strip()

    def say(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()
