"""SSH to hosts with paramiko: a clear message for each way a login goes wrong, known host keys in the DB.

A sandbox host is reached inside its network namespace (workers.host.netns).
"""

import base64
import hashlib
import os
import socket

import paramiko

from apps.core.exceptions import JobFailed
from workers.host.netns import connect_in_netns


class HostUnreachable(JobFailed):
    code = "host_unreachable"


class HostAuthFailed(JobFailed):
    code = "host_auth_failed"


class HostKeyChanged(JobFailed):
    code = "host_key_changed"


def open_socket(ip, port, netns="", timeout=10):
    where = f"{ip}:{port}"
    try:
        if netns:
            if not os.path.exists(f"/run/netns/{netns}"):
                raise HostUnreachable(f"Cannot reach {where}: the sandbox host's namespace {netns} does not exist.")
            return connect_in_netns(netns, (ip, port), timeout)
        return socket.create_connection((ip, port), timeout=timeout)
    except ConnectionRefusedError as exc:
        raise HostUnreachable(f"Connection refused by {where}: is sshd running on that port?") from exc
    except TimeoutError as exc:
        raise HostUnreachable(f"Cannot reach {where}: no answer within {timeout} s.") from exc
    except OSError as exc:
        if isinstance(exc, JobFailed):
            raise
        raise HostUnreachable(f"Cannot reach {where}: {exc.strerror or exc}.") from exc


def key_line(key):
    return f"{key.get_name()} {key.get_base64()}"


def fingerprint(line):
    """SHA256:... as `ssh-keygen -l` prints it."""
    blob = base64.b64decode(line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


class Connection:
    """An authenticated SSH session: run commands, read the host key it presented."""

    def __init__(self, transport, host_key):
        self.transport = transport
        self.host_key = host_key

    def run(self, command, timeout=60):
        """(exit status, stdout, stderr) of `command`."""
        chan = self.transport.open_session(timeout=timeout)
        chan.settimeout(timeout)
        chan.exec_command(command)
        out = chan.makefile("rb").read().decode(errors="replace")
        err = chan.makefile_stderr("rb").read().decode(errors="replace")
        return chan.recv_exit_status(), out, err

    def close(self):
        self.transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connect(ip, port, username, password, *, known_host_key="", netns="", timeout=10):
    """Log in with a password; check the host key against `known_host_key` ("" = first contact)."""
    sock = open_socket(ip, port, netns=netns, timeout=timeout)
    transport = paramiko.Transport(sock)
    try:
        try:
            transport.start_client(timeout=timeout)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise HostUnreachable(f"{ip}:{port} does not speak SSH: {exc or 'connection closed'}.") from exc
        presented = key_line(transport.get_remote_server_key())
        if known_host_key and presented != known_host_key:
            raise HostKeyChanged(
                f"The SSH host key of {ip} has changed (known {fingerprint(known_host_key)}, now "
                f"{fingerprint(presented)}). If the host was reinstalled, reconnect it accepting the new key."
            )
        try:
            transport.auth_password(username, password)
        except paramiko.BadAuthenticationType as exc:
            raise HostAuthFailed(f"{ip} does not accept password logins for {username}.") from exc
        except paramiko.AuthenticationException as exc:
            raise HostAuthFailed(f"Authentication failed for {username}@{ip}: wrong user name or password.") from exc
        except paramiko.SSHException as exc:
            raise HostUnreachable(f"SSH login to {ip} failed: {exc}.") from exc
    except BaseException:
        transport.close()
        raise
    return Connection(transport, presented)
