"""The host side of primary storage (workers.host.storage), run for real on this machine.

NFS: this machine's kernel may have no NFS client. What does not need one is tested for real: an
export already mounted at the mount point (stood in for by a tmpfs whose source is the export's
name) is recognised and not mounted twice, a different source there is refused, unmount removes
it, and a kernel without an NFS client gets a clear refusal.
"""

import os
import subprocess
import uuid

import pytest

from workers.host import storage
from workers.host.errors import HostError


@pytest.fixture
def fake_export(tmp_path):
    """A tmpfs mounted with source "198.51.100.9:/export/<random>" at a fresh mount point."""
    source = f"198.51.100.9:/export/{uuid.uuid4().hex[:8]}"
    mount_point = tmp_path / "mnt"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", source, str(mount_point)], check=True)
    try:
        yield source, str(mount_point)
    finally:
        subprocess.run(["umount", str(mount_point)], capture_output=True)


@pytest.mark.root
def test_nfs_already_mounted_is_kept_and_its_capacity_read(fake_export):
    source, mount_point = fake_export
    spec = {"type": "NFS", "url": source, "mount_point": mount_point}
    result = storage.mount_primary_storage(spec)
    assert result == {"total": 4 * 1024**2, "available": 4 * 1024**2, "mount_point": mount_point}
    assert storage.mount_primary_storage(spec)["total"] == 4 * 1024**2  # idempotent


@pytest.mark.root
def test_nfs_mount_point_holding_something_else_is_refused(fake_export):
    source, mount_point = fake_export
    with pytest.raises(HostError) as raised:
        storage.mount_primary_storage({"type": "NFS", "url": "198.51.100.9:/other", "mount_point": mount_point})
    assert raised.value.message == f"{mount_point} already has {source} mounted, not 198.51.100.9:/other."


@pytest.mark.root
def test_nfs_unmount(fake_export):
    source, mount_point = fake_export
    storage.unmount_primary_storage({"type": "NFS", "url": source, "mount_point": mount_point})
    assert not os.path.ismount(mount_point)
    assert storage.unmount_primary_storage({"type": "NFS", "url": source, "mount_point": mount_point}) == {}


@pytest.mark.skipif(storage._kernel_has_nfs(), reason="this kernel has an NFS client")
def test_nfs_without_a_kernel_client_is_refused_clearly(tmp_path):
    with pytest.raises(HostError) as raised:
        storage.mount_primary_storage({"type": "NFS", "url": "198.51.100.9:/export",
                                       "mount_point": str(tmp_path / "m")})
    assert raised.value.message == ("This host cannot mount NFS: its kernel has no NFS client "
                                    "(nfs is not in /proc/filesystems).")


def test_forbidden_places(tmp_path):
    for path in ["/dev", "/proc/1", "/sys/x/../y", "/tmp/../dev/shm"]:
        assert storage.is_forbidden_path(path), path
    assert not storage.is_forbidden_path("/devices") and not storage.is_forbidden_path(str(tmp_path))
    with pytest.raises(HostError, match="^/proc/nimbo cannot hold primary storage.$"):
        storage.mount_primary_storage({"type": "LocalStorage", "url": "/proc/nimbo", "mount_point": "/proc/nimbo"})
    with pytest.raises(HostError, match="^/dev/null cannot be deleted.$"):
        storage.delete_file({"path": "/dev/null"})
