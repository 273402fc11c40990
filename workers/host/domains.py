"""Libvirt guests on a host: define, start, stop, reboot and undefine domains through libvirt-python.

The domain XML arrives compiled (apps/compute/compile.py). One connection per process, created on
first use and re-created if libvirtd restarted.

Sandbox hosts: the L2 bridge lives inside the host's namespace, which libvirt cannot see. The NIC
is defined as `<interface type='ethernet'>` with a fixed tap name; libvirt creates the tap in the
root namespace when the domain starts, and `start()` at once moves it into the host namespace and
enslaves it to the bridge. qemu keeps its file descriptor, so frames follow the device; when the
domain stops, qemu closes the descriptor and the kernel removes the tap wherever it is. This
keeps the root namespace as it was, apart from the tap's first instant.
No Django import here.
"""

import atexit
import os
import socket
import subprocess
import threading
import time

from . import links
from .ops import HostOpError, operation, payload_operation

URI = "qemu:///system"
LIBVIRT_SOCKET = "/var/run/libvirt/libvirt-sock"
# What a service manager would run for libvirt: (name, binary, pid file), started in this order.
DAEMONS = (("virtlogd", "/usr/sbin/virtlogd", "/run/virtlogd.pid"),
           ("libvirtd", "/usr/sbin/libvirtd", "/run/libvirtd.pid"))

_lock = threading.Lock()
_daemon_lock = threading.Lock()
_machine_netns_fd = None
_conn = None


class DomainError(RuntimeError):
    """A libvirt operation failed; the message says which and why."""


def kvm_works():
    """True if /dev/kvm can be opened (then domains use type kvm, else qemu)."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    os.close(fd)
    return True


def _socket_answers(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(path)
            return True
        except OSError:
            return False


def libvirt_answers():
    """True if the libvirt socket of this host accepts a connection."""
    return _socket_answers(LIBVIRT_SOCKET)


def use_machine_netns(path):
    """A sandbox host's agent runs inside the host's network namespace: keep a handle on the machine's
    own (`path`, e.g. /proc/<pid>/ns/net of the process that started the agent), where libvirtd runs."""
    global _machine_netns_fd
    _machine_netns_fd = os.open(path, os.O_RDONLY)


def _in_machine_netns():
    """(command prefix, fds to pass) that run a daemon in the machine's own network namespace.

    Started from a sandbox host's agent as it is, libvirtd would live (and die) with that host and
    make every guest's tap there; it belongs to the machine, as on a real host.
    """
    if _machine_netns_fd is None:
        return [], ()
    return ["nsenter", f"--net=/proc/self/fd/{_machine_netns_fd}", "--"], (_machine_netns_fd,)


def ensure_libvirtd(timeout=15):
    """Start virtlogd and libvirtd if they are not running (no service manager here); the PIDs started.

    On a host whose service manager runs libvirt (its socket answers) this does nothing. The
    caller owns what this started and may end it by PID (see `stop_daemons`); the agent leaves
    them running, as a service manager would.
    """
    if libvirt_answers():
        return []
    started = []
    with _daemon_lock:
        for daemon, path, pidfile in DAEMONS:
            if links.pid_alive(links.read_pid(pidfile) or 0, marker=daemon):
                continue
            if not os.access(path, os.X_OK):
                raise DomainError(f"{daemon} is not installed on this host ({path} is missing): "
                                  "install libvirt-daemon-system.")
            prefix, fds = _in_machine_netns()
            proc = subprocess.run([*prefix, path, "-d", "--pid-file", pidfile], check=False, capture_output=True,
                                  text=True, stdin=subprocess.DEVNULL, start_new_session=True, pass_fds=fds)
            why = (proc.stderr or proc.stdout).strip().splitlines()
            if proc.returncode:  # with -d the daemon answers once it is set up, or says why it is not
                raise DomainError(f"{daemon} did not start: {why[-1] if why else f'exit status {proc.returncode}'}")
            deadline = time.monotonic() + timeout
            while not links.pid_alive(links.read_pid(pidfile) or 0, marker=daemon) and time.monotonic() < deadline:
                time.sleep(0.05)
            pid = links.read_pid(pidfile)
            if not pid or not links.pid_alive(pid, marker=daemon):
                raise DomainError(f"{daemon} did not start within {timeout} s" + (f": {why[-1]}" if why else "."))
            started.append(pid)
        deadline = time.monotonic() + timeout
        while not libvirt_answers():
            if time.monotonic() > deadline:
                raise DomainError(f"libvirtd runs but its socket {LIBVIRT_SOCKET} does not answer after {timeout} s.")
            time.sleep(0.05)
    return started


def stop_daemons(pids):
    """Stop the daemons `ensure_libvirtd` started, unless domains still run (someone else uses them)."""
    if not pids:
        return
    try:
        if libvirt_answers() and connection().listAllDomains(1):  # VIR_CONNECT_LIST_DOMAINS_ACTIVE
            return
    except Exception:  # noqa: BLE001 - libvirtd already gone: nothing to protect
        pass
    for pid in reversed(pids):
        links.stop_pid(pid, timeout=10)


def started_daemons():
    """PIDs of the libvirt daemons running now (from their pid files)."""
    pids = []
    for daemon, _path, pidfile in DAEMONS:
        pid = links.read_pid(pidfile)
        if pid and links.pid_alive(pid, marker=daemon):
            pids.append(pid)
    return pids


@operation("host.libvirt")
def check_libvirt(attempts=3):
    """Libvirt answers on this host, started here if nothing runs it: {version, started}.

    A libvirtd started a moment ago may drop its first clients while it sets its drivers up: the
    check asks again (on a new connection) before it says libvirt does not answer.
    """
    import libvirt

    started = []
    for attempt in range(attempts):
        try:
            started += ensure_libvirtd()
            conn = connection()
            version = conn.getLibVersion()
            conn.getCapabilities()  # the QEMU driver answers, not only the daemon
            break
        except (DomainError, libvirt.libvirtError) as exc:
            message = exc.get_error_message() if isinstance(exc, libvirt.libvirtError) else str(exc)
            if isinstance(exc, DomainError) or attempt == attempts - 1:
                raise HostOpError(f"libvirt does not answer: {message}") from exc
            _close()
            time.sleep(0.5)
    return {"version": f"{version // 1000000}.{version // 1000 % 1000}.{version % 1000}", "started": started}


def connection():
    """The process's libvirt connection, opened on first use."""
    global _conn
    import libvirt

    with _lock:
        if _conn is not None:
            try:
                _conn.getLibVersion()  # isAlive() still says yes for a daemon that went away: ask it
                return _conn
            except libvirt.libvirtError:
                try:
                    _conn.close()
                except libvirt.libvirtError:
                    pass
                _conn = None
        try:
            _conn = libvirt.open(URI)
        except libvirt.libvirtError:
            # libvirtd stopped (or was never started on a machine without a service manager): this
            # host runs it itself, as it would after a crash, then connects again.
            if libvirt_answers():
                raise
            ensure_libvirtd()
            _conn = libvirt.open(URI)
        return _conn


@atexit.register
def _close():
    """Close the connection before the interpreter tears libvirt's module down (else its __del__ fails)."""
    global _conn
    with _lock:
        if _conn is not None:
            try:
                _conn.close()
            except Exception:  # noqa: BLE001 - libvirtd already gone
                pass
            _conn = None


def _lookup(name):
    import libvirt

    try:
        return connection().lookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return None
        raise


def define(xml):
    """Define (or redefine) the domain; returns its name."""
    import libvirt

    try:
        return connection().defineXML(xml).name()
    except libvirt.libvirtError as exc:
        raise DomainError(f"Cannot define the domain: {exc.get_error_message()}") from exc


def _place_taps(taps):
    for tap in taps:
        host_netns, bridge, dev = tap.get("host_netns"), tap["bridge"], tap["dev"]
        if host_netns:
            if links.link_exists(dev):
                links.ip("link", "set", "dev", dev, "netns", host_netns)
            elif not links.link_exists(dev, netns=host_netns):
                # Still where libvirtd made it while this code runs inside the host's namespace (as a
                # sandbox host's agent does): move it from libvirtd's own network namespace.
                pid = links.read_pid(DAEMONS[1][2])
                links.run(["nsenter", "--target", str(pid), "--net", "--", "ip", "link", "set", "dev", dev,
                           "netns", host_netns])
            links.ip_batch([f"link set {dev} master {bridge}", f"link set {dev} up"], netns=host_netns)


def start(name, taps=()):
    """Start the defined domain (no-op if running) and put its sandbox taps on their bridges.

    `taps`: [{dev, bridge, host_netns}] for NICs defined as type ethernet (sandbox hosts).
    """
    import libvirt

    dom = _lookup(name)
    if dom is None:
        raise DomainError(f"No domain {name}.")
    if not dom.isActive():
        try:
            dom.create()
        except libvirt.libvirtError as exc:
            raise DomainError(f"Cannot start {name}: {exc.get_error_message()}") from exc
    _place_taps(taps)
    return state(name)


def stop(name, timeout=30.0):
    """Graceful ACPI shutdown; after `timeout` seconds the domain is destroyed. Returns 'graceful' or 'forced'."""
    import libvirt

    dom = _lookup(name)
    if dom is None or not dom.isActive():
        return "stopped"
    try:
        dom.shutdown()
    except libvirt.libvirtError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not dom.isActive():
            return "graceful"
        time.sleep(0.1)
    try:
        dom.destroy()
    except libvirt.libvirtError:
        if dom.isActive():
            raise
    return "forced"


def undefine(name):
    """Destroy the domain if it runs and remove its definition; no-op if it does not exist."""
    import libvirt

    dom = _lookup(name)
    if dom is None:
        return
    if dom.isActive():
        try:
            dom.destroy()
        except libvirt.libvirtError:
            if dom.isActive():
                raise
    try:
        dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
    except libvirt.libvirtError:
        dom.undefine()


def state(name):
    """'Running', 'Paused', 'Stopped', or None when no such domain is defined."""
    import libvirt

    dom = _lookup(name)
    if dom is None:
        return None
    code = dom.state()[0]
    if code in (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_BLOCKED):
        return "Running"
    if code == libvirt.VIR_DOMAIN_PAUSED:
        return "Paused"
    return "Stopped"


# --- Operations of the host agent (one plain-data payload each; see apps/compute/guest_specs.py) ---

@payload_operation("domains.start_guest")
def start_guest(spec):
    """{name, xml, taps, console_log, l2_networks}: the NICs' bridges, then define the domain and start
    it; its state."""
    if spec.get("l2_networks"):
        from .network import ensure_bridges  # pyroute2: a heavy import the management side never needs

        ensure_bridges(spec["l2_networks"])
    if spec.get("console_log"):
        os.makedirs(os.path.dirname(spec["console_log"]), exist_ok=True)
    define(spec["xml"])
    return start(spec["name"], spec.get("taps") or ())


@payload_operation("domains.stop_guest")
def stop_guest(spec):
    """Stop the guest and drop its definition (the next start defines it afresh from the database, on
    whichever host takes it). How it ended: "graceful", "forced" or "stopped" (it was not running)."""
    how = stop(spec["name"], timeout=float(spec.get("timeout", 30)))
    undefine(spec["name"])
    return how


@payload_operation("domains.reboot_guest")
def reboot_guest(spec):
    """{name, xml, taps, timeout}: shut down (forced after timeout) and start again; how it went down."""
    define(spec["xml"])
    how = stop(spec["name"], timeout=float(spec.get("timeout", 30)))
    start(spec["name"], spec.get("taps") or ())  # qemu made new taps: they are placed again
    return how


@payload_operation("domains.destroy_guest")
def destroy_guest(spec):
    undefine(spec["name"])


@payload_operation("domains.console_tail")
def console_tail(spec):
    """{path, size}: the last `size` bytes of a guest's serial console file, as text ("" before any output)."""
    try:
        with open(spec["path"], "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - int(spec.get("size", 16000))))
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
