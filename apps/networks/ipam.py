"""IP address management: hand out each address of an L3 network once, also under concurrent calls.

    used = allocate_ip(l3, owner=nic)                 # the next free address
    used = allocate_ip(l3, requested="10.0.0.9")      # exactly this one (409 if taken)
    release_ip(used)

How it stays correct: every handed-out address is a UsedIp row and the database refuses a second
row for the same (L3, address). Allocations on one L3 are serialised by locking its IpRange rows
(SELECT ... FOR UPDATE on PostgreSQL; SQLite serialises writers with BEGIN IMMEDIATE).

How it stays fast: each range keeps a cursor just past the last address it handed out, and the
next free address at or after it is found with one indexed query ("the first used address whose
successor is not used"), so the cost does not grow with the number of addresses in use.
"""

import ipaddress
import logging

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef

from apps.core.exceptions import InvalidInput

from .exceptions import IpAddressInUse, IpRangeExhausted
from .models import IpRange, L3Network, UsedIp

log = logging.getLogger("nimbo.networks.ipam")


def _is_used(l3_id, value):
    return UsedIp.objects.filter(l3_network_id=l3_id, ip_int=value).exists()


def _first_free(l3_id, lo, hi):
    """The lowest free address in [lo, hi], or None: one indexed query, whatever is in use."""
    if lo > hi:
        return None
    if not _is_used(l3_id, lo):
        return lo
    successor_used = UsedIp.objects.filter(l3_network_id=OuterRef("l3_network_id"), ip_int=OuterRef("ip_int") + 1)
    gap = (
        UsedIp.objects.filter(l3_network_id=l3_id, ip_int__gte=lo, ip_int__lt=hi)
        .exclude(Exists(successor_used))
        .order_by("ip_int")
        .values_list("ip_int", flat=True)
        .first()
    )
    return None if gap is None else gap + 1


def _free_in_range(ip_range):
    """The next free address of a range: from its cursor to the end, then from its start."""
    cursor = ip_range.cursor if ip_range.start_int <= ip_range.cursor <= ip_range.end_int else ip_range.start_int
    found = _first_free(ip_range.l3_network_id, cursor, ip_range.end_int)
    if found is None:
        found = _first_free(ip_range.l3_network_id, ip_range.start_int, cursor - 1)
    return found


def _owner_fields(owner):
    if owner is None:
        return {}
    if isinstance(owner, str):
        return {"owner_type": owner}
    return {"owner_type": owner._meta.object_name, "owner_uuid": str(owner.pk)}


def _insert(l3, ip_range, value, owner):
    with transaction.atomic():  # a savepoint: a refused insert leaves the caller's transaction usable
        return UsedIp.objects.create(l3_network=l3, ip_range=ip_range, ip=str(ipaddress.IPv4Address(value)),
                                     ip_int=value, **_owner_fields(owner))


def allocate_ip(l3, *, requested=None, owner=None):
    """Hand out an address of `l3` (an L3Network or its uuid) and return its UsedIp.

    `requested`: a specific address (InvalidInput 400 if outside every range, IpAddressInUse 409
    if taken). Otherwise the next free one; IpRangeExhausted (409) when none is left.
    `owner`: the model instance that holds the address (recorded as owner_type/owner_uuid).
    Runs in the caller's transaction when there is one: a rollback returns the address.
    """
    if not isinstance(l3, L3Network):
        l3 = L3Network.objects.get(pk=l3)
    with transaction.atomic():
        ranges = list(IpRange.objects.select_for_update().filter(l3_network=l3).order_by("start_int", "pk"))
        if requested not in (None, ""):
            return _allocate_requested(l3, ranges, requested, owner)
        for ip_range in ranges:
            for _attempt in range(3):
                value = _free_in_range(ip_range)
                if value is None:
                    break
                try:
                    used = _insert(l3, ip_range, value, owner)
                except IntegrityError:
                    continue  # taken by a caller that bypassed the lock: look again
                next_cursor = value + 1 if value < ip_range.end_int else ip_range.start_int
                IpRange.objects.filter(pk=ip_range.pk).update(cursor=next_cursor)
                return used
        if not ranges:
            raise IpRangeExhausted(f"L3 network {l3} has no IP range to allocate from.", field="l3_network")
        raise IpRangeExhausted(f"No free IP address is left in the IP ranges of L3 network {l3}.",
                               field="l3_network")


def _allocate_requested(l3, ranges, requested, owner):
    try:
        value = int(ipaddress.IPv4Address(str(requested)))
    except ValueError:
        raise InvalidInput(f"{requested} is not a valid IPv4 address.", field="ip") from None
    ip_range = next((r for r in ranges if r.start_int <= value <= r.end_int), None)
    if ip_range is None:
        raise InvalidInput(f"{requested} is not in any IP range of L3 network {l3}.", field="ip")
    try:
        return _insert(l3, ip_range, value, owner)
    except IntegrityError:
        raise IpAddressInUse(f"IP address {requested} is already in use on L3 network {l3}.", field="ip") from None


def release_ip(used_ip):
    """Return an address (a UsedIp, or None for nothing) to its L3 network. Releasing twice is harmless."""
    if used_ip is None:
        return
    UsedIp.objects.filter(pk=used_ip.pk).delete()


def is_free(l3, ip):
    return not UsedIp.objects.filter(l3_network=l3, ip_int=int(ipaddress.IPv4Address(ip))).exists()


__all__ = ["allocate_ip", "release_ip", "is_free", "IpRangeExhausted", "IpAddressInUse"]
