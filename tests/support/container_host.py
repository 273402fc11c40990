"""A container host: a Debian bookworm system booted with systemd, to add to Nimbo as an ordinary KVM host.

The root filesystem is built once with mmdebstrap from the Debian mirror (a fresh minimal server:
systemd, sshd, python3) and cached in NIMBO_TEST_CACHE (/var/cache/nimbo-test); each container
boots a throw-away overlay of it with `systemd-nspawn --boot` inside its own network namespace, so
what the playbook does (apt, kernel settings, the agent's virtualenv, the systemd unit) is done
afresh every time and vanishes afterwards.

The namespace has only its loopback: it never touches the machine's interfaces, routes or
firewall. What the container talks to is relayed by threads of this process:

- SSH: 127.0.0.1:<port> on this machine -> 127.0.0.1:22 inside the container's namespace;
- the Debian mirror and PyPI: names in the container's /etc/hosts point at loopback addresses of its
  namespace where a relay forwards to the real deb.debian.org, pypi.org and files.pythonhosted.org
  (apt and pip speak to the real servers, TLS end to end);
- the management Redis: redis://127.0.0.5:6379 inside the namespace -> the Redis of this process
  (that is NIMBO_AGENT_REDIS_URL for such a host).

Downloaded .deb files and pip's wheels are kept in the cache between runs: apt and pip still install
everything on every boot, they just do not fetch it again.
"""

import contextlib
import ctypes
import fcntl
import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

CACHE = Path(os.environ.get("NIMBO_TEST_CACHE", "/var/cache/nimbo-test"))
MIRROR = "http://deb.debian.org/debian"
# A minimal server (systemd, sshd, python3) plus the playbook's big packages (libvirt, QEMU, firewall
# tools): installing those takes minutes on two busy cores, so the cache holds them. The playbook's apt
# task still refreshes the package lists and installs what is missing (python3-venv, python3-libvirt,
# python3-packaging are left out on purpose), and everything after it runs on a fresh system.
BASE_PACKAGES = ("systemd,systemd-sysv,dbus,openssh-server,python3,iproute2,ca-certificates,procps,kmod,udev,"
                 "libvirt-daemon-system,qemu-system-x86,qemu-utils,iptables,ipset,dnsmasq-base,conntrack")
ROOTFS = CACHE / f"bookworm-rootfs-{hashlib.sha256(BASE_PACKAGES.encode()).hexdigest()[:8]}"
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)

# Loopback addresses inside the container's namespace, and what each one relays to.
UPSTREAMS = {
    "127.0.0.2": ("deb.debian.org", 80),
    "127.0.0.3": ("pypi.org", 443),
    "127.0.0.4": ("files.pythonhosted.org", 443),
}
REDIS_ADDRESS = ("127.0.0.5", 6379)


class CannotRun(Exception):
    """This machine cannot boot a container host; the message says why."""


def why_not():
    """None if this machine can build and boot a container host, else the reason."""
    if os.geteuid() != 0:
        return "needs root (namespaces, mounts, systemd-nspawn)"
    for tool in ("systemd-nspawn", "mmdebstrap"):
        if not shutil.which(tool):
            return f"{tool} is not installed (scripts/apt-packages.txt lists it)"
    return None


def ensure_rootfs(log=print):
    """The cached root filesystem, built now if missing (about a minute). Safe to call concurrently."""
    if (ROOTFS / "etc" / "nimbo-rootfs-ready").exists():
        return ROOTFS
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (ROOTFS / "etc" / "nimbo-rootfs-ready").exists():
            return ROOTFS
        building = CACHE / f"{ROOTFS.name}.building-{os.getpid()}"
        shutil.rmtree(building, ignore_errors=True)
        started = time.monotonic()
        log(f"building the container host's root filesystem in {ROOTFS} (once)")
        result = subprocess.run(
            ["mmdebstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", "bookworm", str(building), MIRROR],
            capture_output=True, text=True, timeout=900, check=False)
        if result.returncode != 0:
            shutil.rmtree(building, ignore_errors=True)
            raise CannotRun(f"mmdebstrap failed: {result.stderr.strip()[-500:]}")
        (building / "etc" / "nimbo-rootfs-ready").write_text(f"built in {time.monotonic() - started:.0f} s\n")
        shutil.rmtree(ROOTFS, ignore_errors=True)
        building.rename(ROOTFS)
        log(f"root filesystem built in {time.monotonic() - started:.0f} s")
    return ROOTFS


# --- relays ----------------------------------------------------------------------------------------

def _in_netns(netns, func):
    """Run func() in a thread that entered `netns`; sockets it creates stay in that namespace."""
    box = {}

    def target():
        try:
            fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns")
            finally:
                os.close(fd)
            box["value"] = func()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _pump(src, dst):
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


class Relay:
    """Accepts on `listener` and joins each connection to a new one from `connect()`."""

    def __init__(self, listener, connect):
        self.listener = listener
        self.connect = connect
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._join, args=(client,), daemon=True).start()

    def _join(self, client):
        try:
            upstream = self.connect()
            upstream.settimeout(None)  # the timeout was for connecting: an idle SSH session is fine
        except OSError:
            client.close()
            return
        pumps = [threading.Thread(target=_pump, args=pair, daemon=True)
                 for pair in ((client, upstream), (upstream, client))]
        for pump in pumps:
            pump.start()
        for pump in pumps:
            pump.join()
        client.close()
        upstream.close()

    def close(self):
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()


def _listen(address):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(64)
    return sock


def _redis_connector(redis_url):
    url = urlparse(redis_url)
    if url.scheme == "unix":
        return lambda: _unix(url.path)
    return lambda: socket.create_connection((url.hostname, url.port or 6379), timeout=10)


def _unix(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    return sock


def agent_redis_url(redis_url):
    """The management Redis as an agent inside the container reaches it."""
    url = urlparse(redis_url)
    db = parse_qs(url.query).get("db", [url.path.lstrip("/") if url.scheme != "unix" else "0"])[0] or "0"
    return f"redis://{REDIS_ADDRESS[0]}:{REDIS_ADDRESS[1]}/{db}"


# --- the container -------------------------------------------------------------------------------

class ContainerHost:
    """A booted container host. `ssh_port` on 127.0.0.1 reaches its sshd as root with `password`."""

    def __init__(self, redis_url, password=None, log=print):
        self.name = f"nimbo-ct-{secrets.token_hex(3)}"
        self.password = password or secrets.token_urlsafe(12)
        self.redis_url = redis_url
        self.log = log
        self.dir = CACHE / "run" / self.name
        self.merged = self.dir / "root"
        self.relays = []
        self.nspawn = None
        self.ssh_port = None
        self.boot_seconds = None

    # Setting up -----------------------------------------------------------------------------------

    def start(self, boot_timeout=60):
        rootfs = ensure_rootfs(self.log)
        started = time.monotonic()
        for sub in ("upper", "work", "root"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={rootfs},upperdir={self.dir / 'upper'},workdir={self.dir / 'work'}",
                        str(self.merged)], check=True, capture_output=True)
        self._configure()
        subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True)
        subprocess.run(["ip", "netns", "exec", self.name, "ip", "link", "set", "lo", "up"], check=True)
        self._start_relays()
        for cache in ("apt-archives", "pip"):
            (CACHE / cache / "partial").mkdir(parents=True, exist_ok=True)
        self.nspawn = subprocess.Popen(
            ["systemd-nspawn", "--quiet", "--boot", "-D", str(self.merged), "-M", self.name, "--register=no",
             "--keep-unit", "--console=passive", f"--network-namespace-path=/run/netns/{self.name}",
             # Network administration, as a host's root has it: over the container's own namespace only.
             "--capability=CAP_NET_ADMIN",
             f"--bind={CACHE / 'apt-archives'}:/var/cache/apt/archives", f"--bind={CACHE / 'pip'}:/root/.cache/pip"],
            # Its own network namespace: what lives under /proc/sys/net belongs to the container (as on a
            # real host the playbook sets ip_forward and the bridge settings there); the rest stays read-only.
            env={**os.environ, "SYSTEMD_NSPAWN_API_VFS_WRITABLE": "network"},
            stdin=subprocess.DEVNULL, stdout=open(self.dir / "console.log", "wb"), stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + boot_timeout
        state = ""
        while time.monotonic() < deadline:
            if self.nspawn.poll() is not None:
                raise CannotRun(f"systemd-nspawn ended with {self.nspawn.returncode}: "
                                f"{(self.dir / 'console.log').read_text(errors='replace')[-500:]}")
            if self.leader():
                state = self.run("systemctl", "is-system-running", check=False).stdout.strip()
                if state in ("running", "degraded"):
                    break
            time.sleep(0.3)
        else:
            raise CannotRun(f"the container did not finish booting within {boot_timeout} s ({state or 'no init'})")
        self.boot_seconds = time.monotonic() - started
        return self

    def _configure(self):
        root = self.merged
        subprocess.run(["chroot", str(root), "chpasswd"], input=f"root:{self.password}\n", text=True, check=True)
        (root / "etc/ssh/sshd_config.d").mkdir(parents=True, exist_ok=True)
        (root / "etc/ssh/sshd_config.d/nimbo-test.conf").write_text("PermitRootLogin yes\nUseDNS no\n")
        (root / "etc/hostname").write_text(self.name + "\n")
        hosts = "".join(f"{address} {name}\n" for address, (name, _) in UPSTREAMS.items())
        (root / "etc/hosts").write_text(f"127.0.0.1 localhost {self.name}\n::1 localhost\n{hosts}")
        # This machine may reach the internet through a TLS-inspecting proxy: the container trusts the
        # same certificate authorities as this machine does (pip in the agent's virtualenv included).
        system_bundle = Path("/etc/ssl/certs/ca-certificates.crt")
        if system_bundle.exists():
            shutil.copyfile(system_bundle, root / "etc/ssl/certs/nimbo-test-machine-cas.crt")
            (root / "etc/pip.conf").write_text("[global]\ncert = /etc/ssl/certs/nimbo-test-machine-cas.crt\n")
        # Keep what apt downloads (the archive directory is bound to the cache).
        (root / "etc/apt/apt.conf.d/01nimbo-test-keep-debs").write_text(
            'Binary::apt::APT::Keep-Downloaded-Packages "true";\n')
        with contextlib.suppress(FileNotFoundError):
            (root / "etc/apt/apt.conf.d/docker-clean").unlink()

    def _start_relays(self):
        ssh_listener = _listen(("127.0.0.1", 0))
        self.ssh_port = ssh_listener.getsockname()[1]
        self.relays.append(Relay(ssh_listener, lambda: _in_netns(
            self.name, lambda: socket.create_connection(("127.0.0.1", 22), timeout=10))))
        for address, upstream in UPSTREAMS.items():
            port = upstream[1]
            listener = _in_netns(self.name, lambda a=address, p=port: _listen((a, p)))
            self.relays.append(Relay(listener, lambda u=upstream: socket.create_connection(u, timeout=30)))
        listener = _in_netns(self.name, lambda: _listen(REDIS_ADDRESS))
        self.relays.append(Relay(listener, _redis_connector(self.redis_url)))

    # Looking inside ---------------------------------------------------------------------------------

    def leader(self):
        """The PID of the container's systemd, as this machine sees it."""
        if self.nspawn is None:
            return None
        with contextlib.suppress(FileNotFoundError):
            children = Path(f"/proc/{self.nspawn.pid}/task/{self.nspawn.pid}/children").read_text().split()
            return int(children[0]) if children else None
        return None

    def run(self, *command, check=True, timeout=60):
        """Run a command inside the container (all its namespaces)."""
        return subprocess.run(["nsenter", "-t", str(self.leader()), "-a", "--", *command], capture_output=True,
                              text=True, timeout=timeout, check=check)

    @property
    def agent_redis_url(self):
        return agent_redis_url(self.redis_url)

    # Tearing down ---------------------------------------------------------------------------------

    def stop(self):
        if self.nspawn is not None and self.nspawn.poll() is None:
            self.nspawn.terminate()  # the container's systemd powers off
            try:
                self.nspawn.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.nspawn.kill()
                self.nspawn.wait()
        for relay in self.relays:
            relay.close()
        subprocess.run(["ip", "netns", "delete", self.name], capture_output=True, check=False)
        subprocess.run(["umount", str(self.merged)], capture_output=True, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
