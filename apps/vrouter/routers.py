"""Booting, updating and repairing the virtual router of an L3 network (called from VM jobs).

- `ensure_router_for(l3, host, ctx)`: the L3's router exists (booted on `host` if it is the
  first VM) and its dnsmasq holds one entry per NIC on the L3. Called when a NIC comes or goes.
- `router_spec(router)`: the plain data `workers.host.router.ensure_router` converges to.
- `reconcile_routers(ctx)`: re-applies every router; what had to be repaired is reported.
- `reconcile_routers_scheduled()`: the same every RECONCILE_INTERVAL seconds on the RQ scheduler,
  quietly: no Job per round, a notification only when a router had to be repaired.

A router holds the gateway address when the L3 offers SNAT through VirtualRouter; otherwise (a
flat network whose gateway is someone else's) it takes its own address from the range.
"""

import ipaddress
import logging
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.infra.agent import call_host
from apps.infra.realise import l2_spec
from apps.networks.choices import Provider, ServiceType
from workers.host import router as host_router

from .choices import RouterState
from .compile import compile_dnsmasq
from .models import VirtualRouter

log = logging.getLogger("nimbo.vrouter")
RECONCILE_KEY = "nimbo:routers:reconcile-scheduled"
RECONCILE_INTERVAL = 60  # seconds between two checks of every router


def served_by_router(l3):
    """True if the L3's DHCP or DNS comes from the VirtualRouter provider."""
    return any(l3.provider_of(s) == Provider.VIRTUAL_ROUTER for s in (ServiceType.DHCP, ServiceType.DNS))


def _lock(l3):
    """Serialise changes to one router across workers (NICs of many VMs come at once)."""
    import django_rq

    # A waiter retries every 10 ms (redis-py's default is 100 ms): an update takes 20-50 ms, and with
    # many VMs starting at once each of their jobs waited here a 100 ms step or more.
    return django_rq.get_connection("default").lock(f"nimbo:router:{l3.pk}", timeout=120, blocking_timeout=120,
                                                    sleep=0.01)


def _names(l3):
    hexid = l3.pk.hex if hasattr(l3.pk, "hex") else str(l3.pk).replace("-", "")
    return f"nimbo-vr-{hexid[:8]}", f"vr{hexid[:10]}"


def _boot_record(l3, host):
    from apps.networks.ipam import allocate_ip

    ip_range = l3.ip_ranges.order_by("start_ip").first()
    if ip_range is None:
        from apps.core.exceptions import JobFailed

        raise JobFailed(f"L3 network {l3.name} has no IP range: its router has no address to take.")
    namespace, leg = _names(l3)
    vr = VirtualRouter(name=f"vr-{l3.name}"[:255], l3_network=l3, host=host, namespace=namespace, leg=leg,
                       netmask=ip_range.netmask, state=RouterState.STARTING)
    if l3.provider_of(ServiceType.SNAT) == Provider.VIRTUAL_ROUTER:
        vr.address = ip_range.gateway
    with transaction.atomic():
        vr.save()
        if not vr.address:
            used = allocate_ip(l3, owner=vr)
            vr.used_ip, vr.address = used, used.ip
            vr.save(update_fields=["used_ip", "address"])
    return vr


def _host_entries(l3):
    from apps.compute.choices import VmState
    from apps.compute.models import VmNic

    # Plain values, not model instances: read under the router's lock for every NIC of the L3 each time
    # a VM starts, where building the instances cost several ms per hundred NICs.
    nics = (VmNic.objects.filter(l3_network=l3, ip__isnull=False)
            .exclude(vm_instance__state__in=[VmState.DESTROYING, VmState.DESTROYED])
            .values_list("mac", "ip", "vm_instance__hostname"))
    return [{"mac": mac, "ip": ip, "hostname": hostname} for mac, ip, hostname in nics]


def router_spec(vr):
    l3 = vr.l3_network
    state_dir = f"{host_router.STATE_ROOT}/{vr.namespace}"
    ip_range = l3.ip_ranges.order_by("start_ip").first()
    prefix = ipaddress.IPv4Network(f"0.0.0.0/{vr.netmask}").prefixlen
    plan = {
        "state_dir": state_dir, "interface": "eth0", "address": vr.address, "netmask": vr.netmask,
        "gateway": ip_range.gateway if ip_range else None, "domain": l3.dns_domain,
        "dns_servers": l3.dns_addresses(), "hosts": _host_entries(l3),
        "lease_time": getattr(settings, "NIMBO_DHCP_LEASE_TIME", 86400),
    }
    return {"name": vr.namespace, "bridge": l3.l2_network.bridge_name, "leg": vr.leg,
            "address": f"{vr.address}/{prefix}", "files": compile_dnsmasq(plan),
            "host_netns": vr.host.netns or None, "l2_networks": [l2_spec(l3.l2_network)]}


def repairs(done):
    """What `ensure_router` did beyond its routine reload: the parts it had to rebuild."""
    return [part for part in done or [] if part != "dnsmasq reloaded"]


def apply(vr):
    """Converge the router on its host; the repairs made."""
    done = call_host(vr.host, "router.ensure_router", router_spec(vr), timeout=60)
    fields = {"state": RouterState.RUNNING}
    if repairs(done):
        fields.update(last_repair=", ".join(done)[:255], last_repaired=timezone.now())
    if vr.state != RouterState.RUNNING or "last_repair" in fields:  # nearly every VM start: nothing to write
        VirtualRouter.objects.filter(pk=vr.pk).update(**fields)
    return done


def _applied_key(l3):
    return f"nimbo:router:{l3.pk}:applied"


def ensure_router_for(l3, host, ctx=None):
    """Boot the L3's router on `host` if it has none, then bring its host entries up to date.

    Many VMs starting at once coalesce: a caller that waited for the lock while another applied
    the router (reading the NICs after this caller's were committed) has nothing left to do.
    """
    import django_rq

    redis = django_rq.get_connection("default")
    requested = time.time()
    with _lock(l3):
        applied = float(redis.get(_applied_key(l3)) or 0)
        if applied > requested and VirtualRouter.objects.filter(l3_network=l3).exists():
            if ctx is not None:
                ctx.skip(f"Update the virtual router of {l3.name}", "another VM's job just updated it with this NIC")
            return []
        reading = time.time()  # NICs committed before this moment are in what apply() reads
        vr = VirtualRouter.objects.select_related("host__cluster", "l3_network__l2_network").filter(
            l3_network=l3).first()
        booting = vr is None
        if booting:
            vr = _boot_record(l3, host)
            if not settings.NIMBO_JOBS_INLINE:
                schedule_reconcile()
        step = f"Boot the virtual router of {l3.name} on {vr.host.name}" if booting else \
            f"Update the virtual router of {l3.name}"
        if ctx is not None:
            with ctx.step(step):
                done = apply(vr)
        else:
            done = apply(vr)
        redis.set(_applied_key(l3), f"{reading:.6f}", ex=3600)
        return done


def remove_router(vr):
    """Remove the router from its host and release its address."""
    from apps.networks.ipam import release_ip

    if vr.host_id:
        call_host(vr.host, "router.destroy_router", router_spec(vr), timeout=60)
    used = vr.used_ip
    vr.delete()
    if used is not None:
        release_ip(used)


def _placed_routers():
    return list(VirtualRouter.objects.select_related("host__cluster", "l3_network__l2_network")
                .filter(host__isnull=False))


def reconcile_routers(ctx):
    """Job: re-apply every router; {router name: repairs} for those that had drifted."""
    drift = {}
    for vr in _placed_routers():
        with ctx.step(f"Check router {vr.name} on {vr.host.name}"):
            with _lock(vr.l3_network):
                done = apply(vr)
        if done:
            drift[vr.name] = done
    ctx.set_result(drift=drift)
    return {"drift": drift}


def check_routers():
    """Re-apply every router, each on its own (an unreachable host does not stop the others); the repairs
    {router name: parts rebuilt}, each also recorded on its router and announced on every open page."""
    from apps.core.exceptions import NimboError
    from apps.core.notify import notify

    repaired = {}
    for vr in _placed_routers():
        try:
            with _lock(vr.l3_network):
                done = repairs(apply(vr))
        except NimboError as exc:
            log.warning("router %s on %s: %s", vr.name, vr.host.name, exc)
            continue
        if done:
            repaired[vr.name] = done
            log.info("router %s on %s repaired: %s", vr.name, vr.host.name, ", ".join(done))
            notify({"type": "router", "router": str(vr.pk), "name": vr.name,
                    "message": f"Virtual router {vr.name} on {vr.host.name} repaired: {', '.join(done)}"})
    return repaired


def schedule_reconcile(delay=RECONCILE_INTERVAL):
    """Make sure one check of every router is scheduled (each round schedules the next)."""
    from apps.core.periodic import schedule_once

    schedule_once(RECONCILE_KEY, "apps.vrouter.routers.reconcile_routers_scheduled", delay)


def reconcile_routers_scheduled():
    """The periodic entry point (RQ scheduler): check every router, then schedule the next round."""
    from apps.core.periodic import next_round_after

    with next_round_after(RECONCILE_KEY, schedule_reconcile):
        return check_routers()
