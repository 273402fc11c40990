"""Fetching an image from its URL into a local file, with progress and a running sha256.

http(s):// through urllib; file:/// and absolute paths read a file on the management node.
Every failure is a JobFailed with a message that names the URL and the reason; the partial
file is removed before it is raised.
"""

import errno
import hashlib
import http.client
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from apps.core.exceptions import InvalidInput, JobFailed

from workers.host.netns import create_connection

from .sources import check_url

CHUNK = 256 * 1024
TIMEOUT = 30


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is held to the same policy as the URL given (no hop to the metadata service)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if not newurl.lower().startswith(("http://", "https://")):
            raise JobFailed(f"Cannot download {req.full_url}: redirected to {newurl}, which is not http(s).")
        try:
            check_url(newurl, resolve=True)
        except InvalidInput as exc:
            raise JobFailed(f"Cannot download {req.full_url}: redirected to {newurl}. {exc.message}") from exc
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_opener = urllib.request.build_opener(_CheckedRedirects)


def _in_netns(connection_class, netns):
    """An http.client connection class whose sockets are opened inside `netns`."""

    def make(*args, **kwargs):
        conn = connection_class(*args, **kwargs)
        conn._create_connection = lambda address, timeout=None, source_address=None: create_connection(
            address, timeout, netns)
        return conn

    return make


class _HttpInNetns(urllib.request.HTTPHandler):
    def __init__(self, netns):
        super().__init__()
        self.netns = netns

    def http_open(self, req):
        return self.do_open(_in_netns(http.client.HTTPConnection, self.netns), req)


class _HttpsInNetns(urllib.request.HTTPSHandler):
    def __init__(self, netns):
        super().__init__()
        self.netns = netns

    def https_open(self, req):
        extra = {"check_hostname": self._check_hostname} if hasattr(self, "_check_hostname") else {}
        return self.do_open(_in_netns(http.client.HTTPSConnection, self.netns), req, context=self._context, **extra)


def _opener_for(url):
    """The opener for `url`: through the sandbox network its address is on, else the machine's routes.

    Only the URL's own host is looked at; a redirect to another address of a sandbox network would
    still be refused by `check_url` or reached through the same namespace.
    """
    from apps.infra.sandbox import netns_for_address

    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        netns = netns_for_address(host)
    except JobFailed as exc:
        raise JobFailed(f"Cannot download {url}: {exc.message}") from exc
    if not netns:
        return _opener
    return urllib.request.build_opener(_CheckedRedirects, _HttpInNetns(netns), _HttpsInNetns(netns))


def _open(url):
    """(readable stream, total bytes or None) for `url`."""
    try:
        real_path = check_url(url, resolve=True)
    except InvalidInput as exc:
        raise JobFailed(f"Cannot download {url}: {exc.message}") from exc
    if url.lower().startswith(("http://", "https://")):
        try:
            response = _opener_for(url).open(urllib.request.Request(url, headers={"User-Agent": "Nimbo"}),
                                             timeout=TIMEOUT)
        except urllib.error.HTTPError as exc:
            raise JobFailed(f"Cannot download {url}: HTTP {exc.code} {exc.reason}.") from exc
        except urllib.error.URLError as exc:
            reason = exc.reason.strerror if isinstance(exc.reason, OSError) and exc.reason.strerror else exc.reason
            raise JobFailed(f"Cannot download {url}: {reason}.") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise JobFailed(f"Cannot download {url}: {exc}.") from exc
        length = response.headers.get("Content-Length")
        return response, int(length) if length and length.isdigit() else None
    path = real_path  # links and ".." resolved, inside an import directory
    try:
        stream = open(path, "rb")  # closed by the caller
    except OSError as exc:
        raise JobFailed(f"Cannot read {path}: {exc.strerror}.") from exc
    if not os.path.isfile(path):
        stream.close()
        raise JobFailed(f"Cannot read {path}: not a regular file.")
    return stream, os.path.getsize(path)


def download(url, dest, progress=None, space_name="the backup storage"):
    """Copy `url` to `dest`; returns {"size", "sha256"}. `progress(done, total)` is called per chunk."""
    digest = hashlib.sha256()
    done = 0
    stream, total = _open(url)
    try:
        with stream, open(dest, "wb") as out:
            while True:
                try:
                    chunk = stream.read(CHUNK)
                except (OSError, http.client.HTTPException) as exc:
                    raise JobFailed(f"Cannot download {url}: the transfer broke off ({exc}).") from exc
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
            out.flush()
            os.fsync(out.fileno())
        if total is not None and done != total:
            raise JobFailed(f"Cannot download {url}: got {done} of {total} bytes.")
    except OSError as exc:
        Path(dest).unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise JobFailed(f"Not enough space on {space_name} for {url} ({done} bytes written).") from exc
        raise JobFailed(f"Cannot write the image: {exc.strerror or exc}.") from exc
    except BaseException:
        Path(dest).unlink(missing_ok=True)
        raise
    return {"size": done, "sha256": digest.hexdigest()}
