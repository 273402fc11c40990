"""Files on a backup storage, whatever its type: SFTP (over paramiko) or a local directory.

Used by the management node's jobs: checking a backup storage, storing and deleting image files.
"""

import contextlib
import os
import posixpath
from pathlib import Path

from workers.host import sftp as sftp_ops
from workers.host.errors import HostError
from workers.host.storage import capacity as local_capacity

from .choices import BackupStorageType


class LocalFiles:
    """A directory on the management node."""

    def __init__(self, folder):
        self.folder = folder

    def prepare(self):
        try:
            os.makedirs(self.folder, exist_ok=True)
        except OSError as exc:
            raise HostError(f"Folder {self.folder} cannot be used: {exc.strerror}.") from exc
        if not os.access(self.folder, os.W_OK):
            raise HostError(f"Folder {self.folder} cannot be used: not a writable directory.")
        return local_capacity(self.folder)

    def capacity(self):
        return local_capacity(self.folder)

    def store(self, local_path, path, progress=None):
        """Move or copy a finished local file to `path` (atomically: no partial file at `path`)."""
        os.makedirs(posixpath.dirname(path), exist_ok=True)
        os.replace(local_path, path)

    def remove(self, path):
        Path(path).unlink(missing_ok=True)
        Path(path + ".part").unlink(missing_ok=True)

    def exists(self, path):
        return os.path.exists(path)


class SftpFiles:
    """A folder on an SFTP server, through one SSH session."""

    def __init__(self, client, folder):
        self.client, self.folder = client, folder
        self.sftp = client.open_sftp()

    def prepare(self):
        return sftp_ops.prepare_folder(self.client, self.folder)

    def capacity(self):
        return sftp_ops.remote_capacity(self.client, self.folder)

    def store(self, local_path, path, progress=None):
        part = path + ".part"
        size = os.path.getsize(local_path)
        sftp_ops.run(self.client, f"mkdir -p {sftp_ops.shlex.quote(posixpath.dirname(path))}")
        self._check_space(size)
        try:
            self.sftp.put(local_path, part, callback=progress)
            self.sftp.posix_rename(part, path)
        except OSError as exc:
            self.remove(path)
            self._check_space(size)  # SFTP says only "Failure" when the disk fills up meanwhile
            raise HostError(f"Cannot write {path} on the backup storage: {exc.strerror or exc}.") from exc

    def _check_space(self, size):
        available = self.capacity()["available"]
        if size > available:
            raise HostError(f"Not enough space: the image needs {size} bytes, {available} are available.")

    def remove(self, path):
        for p in (path, path + ".part"):
            with contextlib.suppress(FileNotFoundError):
                self.sftp.remove(p)

    def exists(self, path):
        try:
            self.sftp.stat(path)
            return True
        except FileNotFoundError:
            return False


@contextlib.contextmanager
def open_backup_storage(backup_storage):
    """LocalFiles or SftpFiles for `backup_storage`; HostError if it cannot be reached."""
    if backup_storage.type == BackupStorageType.LOCAL:
        yield LocalFiles(backup_storage.folder)
        return
    with sftp_ops.ssh_session(ssh_spec(backup_storage)) as client:
        files = SftpFiles(client, backup_storage.folder)
        try:
            yield files
        finally:
            files.sftp.close()


def image_source(backup_storage, path):
    """How a host fetches a file of this backup storage (workers.host.storage.cache_image's source)."""
    if backup_storage.type == BackupStorageType.LOCAL:
        return {"type": "local", "path": path}
    return {"type": "sftp", "path": path, **ssh_spec(backup_storage)}


def ssh_spec(backup_storage):
    """The storage's SSH connection data, with the namespace to connect from when its address is on a
    sandbox network (never through the machine's own routes)."""
    from apps.infra.sandbox import netns_for_address

    return {**backup_storage.ssh_spec(), "netns": netns_for_address(backup_storage.hostname)}
