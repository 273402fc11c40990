"""SSH/SFTP access to an SFTP backup storage (plain data in, no Django).

`spec` is {"hostname", "port", "username", "password", "private_key", "netns"}: the management node uses
it to check a backup storage and upload images, a host uses it to pull an image into its cache.
"""

import contextlib
import io
import shlex

import paramiko

from .errors import HostError
from .netns import create_connection

CONNECT_TIMEOUT = 10


def _load_key(text):
    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return cls.from_private_key(io.StringIO(text))
        except (paramiko.SSHException, ValueError):
            continue
    raise HostError("The private key cannot be read (OpenSSH or PEM format expected).")


@contextlib.contextmanager
def ssh_session(spec):
    """An open paramiko SSHClient; every failure becomes a HostError a user can read."""
    where = f"{spec['username']}@{spec['hostname']}:{spec.get('port', 22)}"
    client = paramiko.SSHClient()
    # Backup storage is added by address and credentials, as in ZStack: its host key is learnt then.
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    kwargs = {
        "hostname": spec["hostname"],
        "port": int(spec.get("port", 22)),
        "username": spec["username"],
        "timeout": CONNECT_TIMEOUT,
        "banner_timeout": CONNECT_TIMEOUT,
        "auth_timeout": CONNECT_TIMEOUT,
        "allow_agent": False,
        "look_for_keys": False,
    }
    if spec.get("private_key"):
        kwargs["pkey"] = _load_key(spec["private_key"])
    else:
        kwargs["password"] = spec.get("password") or ""
    try:
        if spec.get("netns"):  # an address on a sandbox network: connect from inside it
            kwargs["sock"] = create_connection((kwargs["hostname"], kwargs["port"]), CONNECT_TIMEOUT, spec["netns"])
        client.connect(**kwargs)
    except paramiko.AuthenticationException as exc:
        client.close()
        raise HostError(f"SSH login to {where} was refused: wrong username, password or key.") from exc
    except (TimeoutError, OSError, paramiko.SSHException) as exc:
        client.close()
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        raise HostError(f"Cannot connect to {where}: {reason}.") from exc
    try:
        yield client
    finally:
        client.close()


def run(client, command):
    """(exit status, stdout, stderr) of a command run over SSH."""
    _, stdout, stderr = client.exec_command(command, timeout=60)
    out = stdout.read().decode(errors="replace")
    err = stderr.read().decode(errors="replace")
    return stdout.channel.recv_exit_status(), out, err


def prepare_folder(client, folder):
    """Create `folder` if needed, check it is writable, and return its capacity {total, available}."""
    q = shlex.quote(folder)
    status, _, err = run(client, f"mkdir -p {q} && test -d {q} && test -w {q}")
    if status != 0:
        detail = err.strip().splitlines()[-1] if err.strip() else "not a writable directory"
        raise HostError(f"Folder {folder} cannot be used: {detail}.")
    return remote_capacity(client, folder)


def remote_capacity(client, folder):
    status, out, err = run(client, f"df -P -B1 {shlex.quote(folder)}")
    lines = out.strip().splitlines()
    if status != 0 or len(lines) < 2:
        raise HostError(f"Cannot read the capacity of {folder}: {err.strip() or 'df failed'}.")
    fields = lines[-1].split()
    return {"total": int(fields[1]), "available": int(fields[3])}
