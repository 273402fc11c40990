"""Where an image may be fetched from: the one policy the model (on input) and the download job
(on every connection and redirect) both apply.

- A local file (file:/// or an absolute path) must lie inside one of the configured import
  directories (NIMBO_IMAGE_IMPORT_DIRS, default the project's images/), after `..` and symbolic
  links are resolved: never /etc/shadow, a private key or the instance's own var/secret_key.
- An http(s) URL must not reach the management node itself or its neighbourhood: loopback,
  link-local (169.254.0.0/16, fe80::/10, where clouds put their metadata service), unspecified
  and multicast addresses, and the known metadata addresses, are refused unless
  NIMBO_IMAGE_ALLOW_LOCAL_ADDRESSES is on (a mirror on the management node itself).
"""

import ipaddress
import os
import socket
import urllib.parse

from django.conf import settings

from apps.core.exceptions import InvalidInput

METADATA_ADDRESSES = {ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "168.63.129.16")}


def import_dirs():
    return [os.path.realpath(d) for d in settings.NIMBO_IMAGE_IMPORT_DIRS]


def local_path(url):
    """The file system path of a file:/// URL or an absolute path, else None."""
    if url.lower().startswith("file://"):
        return urllib.parse.unquote(urllib.parse.urlparse(url).path)
    if url.startswith("/"):
        return url
    return None


def check_local_path(path):
    """Refuse a file outside the import directories (after resolving `..` and links)."""
    real = os.path.realpath(os.path.normpath(path))
    dirs = import_dirs()
    if not any(real == d or real.startswith(d.rstrip("/") + "/") for d in dirs):
        raise InvalidInput(f"Local images are imported only from {', '.join(dirs)} (NIMBO_IMAGE_IMPORT_DIRS); "
                           f"{os.path.normpath(path)} is outside.", field="url")
    return real


def refused_address(address):
    """Why `address` (an ip_address) may not be fetched from, or None."""
    if settings.NIMBO_IMAGE_ALLOW_LOCAL_ADDRESSES:
        return None
    if getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "a cloud metadata service"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return "not a unicast address"
    return None


def check_host(host, *, resolve):
    """Refuse a URL host that is (or, with `resolve`, resolves to) a refused address."""
    host = (host or "").strip("[]")
    if not host:
        raise InvalidInput("The URL has no host.", field="url")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        if host.lower().rstrip(".") in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
            addresses = [ipaddress.ip_address("127.0.0.1")]
        elif resolve:
            try:
                infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
            except (socket.gaierror, UnicodeError) as exc:
                raise InvalidInput(f"Cannot resolve {host}: {exc}.", field="url") from exc
            addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
        else:
            addresses = []
    for address in addresses:
        reason = refused_address(address)
        if reason:
            raise InvalidInput(f"Images are not fetched from {host} ({address} is {reason}); "
                               "set NIMBO_IMAGE_ALLOW_LOCAL_ADDRESSES to allow it.", field="url")


def check_url(url, *, resolve=False):
    """The whole policy for one URL; `resolve` looks host names up (the download job does)."""
    path = local_path(url)
    if path is not None:
        return check_local_path(path)
    try:
        host = urllib.parse.urlsplit(url).hostname
    except ValueError as exc:
        raise InvalidInput(f"Not a valid URL: {exc}.", field="url") from exc
    check_host(host, resolve=resolve)
    return None
