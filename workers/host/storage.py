"""Host side of storage: mount primary storage, cache images on it, create and delete volume files.

Runs on a hypervisor host (or the management node for local work); never imports Django.
Every function takes plain data and returns plain data, is idempotent, and raises HostError
with a readable message for an expected failure. Files are written under a ".part" name and
renamed when complete, so a failure never leaves a partial file where a finished one belongs.
"""

import json
import contextlib
import fcntl
import os
import posixpath
import subprocess
from pathlib import Path

from .errors import HostError
from .ops import payload_operation
from .sftp import ssh_session

CHUNK = 1024 * 1024
FORBIDDEN_ROOTS = ("/dev", "/proc", "/sys")


# A directory Nimbo fills and removes files in must be its own: never the root, a system tree
# or a shared top-level directory itself (their subdirectories are fine, e.g. /var/lib/nimbo).
SYSTEM_TREES = ("/etc", "/boot", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/usr", "/run")
SHARED_TOP_DIRECTORIES = ("/", "/var", "/var/lib", "/var/log", "/var/tmp", "/home", "/tmp", "/opt", "/srv",
                          "/mnt", "/media", "/root")


def is_system_directory(path):
    """True for /, a system tree (/etc, /usr...) or a shared top-level directory itself (/tmp, /home...)."""
    norm = posixpath.normpath(path)
    if norm.startswith("//"):
        norm = "/" + norm.lstrip("/")
    return norm in SHARED_TOP_DIRECTORIES or any(norm == root or norm.startswith(root + "/") for root in SYSTEM_TREES)


def is_forbidden_path(path):
    """True for /dev, /proc, /sys and anything under them (after normalising "..")."""
    norm = posixpath.normpath(path)
    return any(norm == root or norm.startswith(root + "/") for root in FORBIDDEN_ROOTS)


def capacity(path):
    """{"total", "available"} bytes of the file system holding `path`."""
    st = os.statvfs(path)
    return {"total": st.f_blocks * st.f_frsize, "available": st.f_bavail * st.f_frsize}


def _mounted_source(mount_point):
    """The source mounted at `mount_point`, or None (read from /proc/self/mountinfo)."""
    target = os.path.realpath(mount_point)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = left.split()
            if len(fields) > 4 and fields[4].encode().decode("unicode_escape") == target:
                return right.split()[1]
    return None


def _kernel_has_nfs():
    with open("/proc/filesystems") as f:
        return any(line.split()[-1] in ("nfs", "nfs4") for line in f if line.strip())


@payload_operation("storage.mount_primary_storage")
def mount_primary_storage(spec):
    """Make a primary storage usable on this host and return its capacity.

    spec: {"type": "NFS" | "LocalStorage", "url": "host:/path" or "/dir", "mount_point": "/dir"}.
    NFS is mounted at mount_point (nothing happens if it is already mounted there); a local
    storage's directory is created. Returns {"total", "available", "mount_point"}.
    """
    kind, url, mount_point = spec["type"], spec["url"], spec["mount_point"]
    if is_forbidden_path(mount_point) or (kind == "LocalStorage" and is_system_directory(mount_point)):
        raise HostError(f"{mount_point} cannot hold primary storage.")
    if kind == "LocalStorage":
        try:
            os.makedirs(mount_point, exist_ok=True)
        except OSError as exc:
            raise HostError(f"Cannot create directory {mount_point}: {exc.strerror}.") from exc
        if not os.access(mount_point, os.W_OK):
            raise HostError(f"Directory {mount_point} is not writable.")
    elif kind == "NFS":
        _mount_nfs(url, mount_point, spec.get("options", ""))
    else:
        raise HostError(f"Unknown primary storage type {kind}.")
    return {**capacity(mount_point), "mount_point": mount_point}


def _mount_nfs(url, mount_point, options):
    source = _mounted_source(mount_point)
    if source == url:
        return
    if source is not None:
        raise HostError(f"{mount_point} already has {source} mounted, not {url}.")
    if not _kernel_has_nfs():
        raise HostError("This host cannot mount NFS: its kernel has no NFS client (nfs is not in /proc/filesystems).")
    os.makedirs(mount_point, exist_ok=True)
    command = ["mount", "-t", "nfs", *(["-o", options] if options else []), url, mount_point]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise HostError(f"Cannot mount {url}: {detail[-1] if detail else 'mount failed'}.")


@payload_operation("storage.unmount_primary_storage")
def unmount_primary_storage(spec):
    """Undo mount_primary_storage: unmount NFS; a local directory and its files are kept."""
    if spec["type"] != "NFS":
        return {}
    mount_point = spec["mount_point"]
    if _mounted_source(mount_point) is None:
        return {}
    result = subprocess.run(["umount", mount_point], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise HostError(f"Cannot unmount {mount_point}: {result.stderr.strip() or 'umount failed'}.")
    return {}


# --- images and volumes -----------------------------------------------------------------------------

def qemu_img_info(path):
    """`qemu-img info --output=json` as a dict; HostError if qemu-img cannot read the file."""
    result = subprocess.run(["qemu-img", "info", "--output=json", path], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise HostError(f"qemu-img cannot read {path}: {result.stderr.strip()}")
    return json.loads(result.stdout)


def _qemu_img(*args):
    result = subprocess.run(["qemu-img", *args], capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        message = result.stderr.strip()
        if "No space left" in message:
            raise HostError("Not enough space on primary storage.")
        raise HostError(f"qemu-img {args[0]} failed: {message}")


def _copy_stream(read, write, total, progress):
    done = 0
    while True:
        chunk = read(CHUNK)
        if not chunk:
            return done
        write(chunk)
        done += len(chunk)
        if progress:
            progress(done, total)


def _fetch(source, dest, progress):
    """Copy the image described by `source` to the local file `dest`."""
    if source["type"] == "local":
        total = os.path.getsize(source["path"])
        with open(source["path"], "rb") as src, open(dest, "wb") as out:
            _copy_stream(src.read, out.write, total, progress)
    elif source["type"] == "sftp":
        with ssh_session(source) as client, client.open_sftp() as sftp:
            try:
                total = sftp.stat(source["path"]).st_size
                with sftp.open(source["path"], "rb") as src, open(dest, "wb") as out:
                    src.prefetch(total)
                    _copy_stream(src.read, out.write, total, progress)
            except FileNotFoundError as exc:
                raise HostError(f"The image file {source['path']} is missing on the backup storage.") from exc
    else:
        raise HostError(f"Unknown image source {source['type']}.")


@payload_operation("storage.cache_image")
def cache_image(spec, progress=None):
    """Copy an image from backup storage into a primary storage's cache, as qcow2.

    spec: {"source": {"type": "local", "path"} | {"type": "sftp", hostname, port, username,
    password, private_key, path}, "format": "qcow2" | "raw", "path": cache file}.
    `progress(done, total)` is called while copying. Nothing to do if the cache file exists.
    Returns {"path", "actual_size", "virtual_size"}.

    One copy per cache file: callers that ask at the same moment (two VMs of one image started back
    to back, on one host or on hosts sharing the storage) queue on a lock next to the file; the
    first copies, the others find the file there. The lock goes with its process if that dies.
    """
    path = spec["path"]
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with _file_lock(path + ".lock"):
            if not os.path.exists(path):
                _copy_into_cache(spec, path, progress)
    info = qemu_img_info(path)
    return {"path": path, "actual_size": os.path.getsize(path), "virtual_size": info["virtual-size"]}


@contextlib.contextmanager
def _file_lock(lock_path):
    """An exclusive lock on `lock_path`, removed when released (nothing is left next to the cache).

    A waiter that wakes on a lock file its holder removed meanwhile takes the lock again on the
    new file, so two callers never hold "the" lock at once."""
    while True:
        lock = open(lock_path, "a")
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if os.stat(lock_path).st_ino == os.fstat(lock.fileno()).st_ino:
                break
        except FileNotFoundError:
            pass
        lock.close()
    try:
        yield
    finally:
        Path(lock_path).unlink(missing_ok=True)
        lock.close()


def _copy_into_cache(spec, path, progress):
    """The copy itself, under the cache file's lock: fetched to `.part`, converted if need be, renamed."""
    part = path + ".part"
    fetched = part + ".src" if spec["format"] != "qcow2" else part
    try:
        _fetch(spec["source"], fetched, progress)
        if fetched != part:
            _qemu_img("convert", "-f", spec["format"], "-O", "qcow2", fetched, part)
        os.replace(part, path)
    except OSError as exc:
        if exc.errno == 28:
            raise HostError("Not enough space on primary storage to cache the image.") from exc
        raise HostError(f"Cannot cache the image: {exc.strerror or exc}.") from exc
    finally:
        for leftover in {part, fetched}:
            Path(leftover).unlink(missing_ok=True)


@payload_operation("storage.create_volume")
def create_volume(spec):
    """Create a volume file: a qcow2 overlay on `backing` (root volumes) or an empty qcow2 of `size`.

    spec: {"path", "backing": cache path or None, "size": bytes or None}. Idempotent: an existing
    file is kept. Returns {"path", "virtual_size", "actual_size"}.
    """
    path = spec["path"]
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        part = path + ".part"
        args = ["create", "-q", "-f", "qcow2"]
        if spec.get("backing"):
            args += ["-b", spec["backing"], "-F", "qcow2"]
        args.append(part)
        if spec.get("size"):
            args.append(str(int(spec["size"])))
        try:
            _qemu_img(*args)
            os.replace(part, path)
        finally:
            Path(part).unlink(missing_ok=True)
    info = qemu_img_info(path)
    return {"path": path, "virtual_size": info["virtual-size"], "actual_size": os.path.getsize(path)}


@payload_operation("storage.delete_file")
def delete_file(spec):
    """Delete a volume or cache file (a missing one is fine). spec: {"path"}."""
    path = spec["path"]
    if is_forbidden_path(path):
        raise HostError(f"{path} cannot be deleted.")
    Path(path).unlink(missing_ok=True)
    return {}
