"""TCP connections opened inside a network namespace (no Django here).

setns() changes only the calling thread: a helper thread enters the namespace, opens the socket and
hands it back; the socket stays in that namespace whichever thread then uses it. This is how the
management side reaches addresses that live only on a sandbox network (a sandbox host's sshd, an
SFTP server or a web server there) without ever using the machine's own routes.
"""

import ctypes
import os
import socket
import threading

CLONE_NEWNET = 0x40000000
NETNS_DIR = "/run/netns"
_libc = ctypes.CDLL(None, use_errno=True)


def connect_in_netns(netns, address, timeout):
    """socket.create_connection(address, timeout) from inside the named namespace `netns`."""
    box = {}

    def target():
        try:
            fd = os.open(os.path.join(NETNS_DIR, netns), os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, os.strerror(err))
            finally:
                os.close(fd)
            box["sock"] = socket.create_connection(address, timeout=timeout)
        except BaseException as exc:  # noqa: BLE001 - handed back to the calling thread
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"netns-{netns}", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["sock"]


def create_connection(address, timeout=None, netns=""):
    """A connected TCP socket to `address`: from `netns` when given, else through this process's routes."""
    if netns:
        return connect_in_netns(netns, address, timeout)
    return socket.create_connection(address, timeout=timeout)
