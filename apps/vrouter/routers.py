"""Booting, updating and repairing the virtual router of an L3 network (called from VM jobs).

- `ensure_router_for(l3, host, ctx)`: the L3's router exists (booted on `host` if it is the
  first VM) and its dnsmasq holds one entry per NIC on the L3. Called when a NIC comes or goes.
- `router_spec(router)`: the plain data `workers.host.router.ensure_router` converges to.
- `reconcile_routers(ctx)`: re-applies every router; what had to be repaired is reported.
- `reconcile_routers_scheduled()`: the same every RECONCILE_INTERVAL seconds on the RQ scheduler,
  quietly: no Job per round, a notification only when a router had to be repaired.

A router of an L3 that takes SNAT, port forwarding or EIPs from VirtualRouter holds the L3's gateway on
its private leg and gets a public leg on its offering's public L3 (an address from that L3's range, the
default route through its gateway, the VIPs its rules and EIPs use). Otherwise (a flat network whose
gateway is someone else's) it takes its own address from the range and has no public leg.
"""

import ipaddress
import logging
import time
from contextlib import ExitStack, contextmanager

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.infra.agent import call_host
from apps.infra.realise import l2_spec
from apps.networks.choices import Provider, ServiceType
from workers.host import router as host_router

from .choices import EnabledState, RouterState
from .compile import compile_dnsmasq, compile_nat, vip_addresses
from .models import Eip, PortForwardingRule, VirtualRouter, VirtualRouterOffering

NAT_SERVICES = (ServiceType.SNAT, ServiceType.PORT_FORWARDING, ServiceType.EIP)
ROUTINE = ("dnsmasq reloaded", "nat updated")  # what a change asks for, not a repair

log = logging.getLogger("nimbo.vrouter")
RECONCILE_KEY = "nimbo:routers:reconcile-scheduled"
RECONCILE_INTERVAL = 60  # seconds between two checks of every router


def served_by_router(l3):
    """True if any of the L3's services comes from the VirtualRouter provider."""
    return any(l3.provider_of(s) == Provider.VIRTUAL_ROUTER for s in (ServiceType.DHCP, ServiceType.DNS, *NAT_SERVICES))


def needs_public_leg(l3):
    """True if the L3 takes SNAT, port forwarding or EIPs from VirtualRouter."""
    return any(l3.provider_of(s) == Provider.VIRTUAL_ROUTER for s in NAT_SERVICES)


def default_offering(zone_id):
    return (VirtualRouterOffering.objects.select_related("public_l3__l2_network", "management_l3")
            .filter(zone_id=zone_id, is_default=True).first())


def public_l3_of(l3):
    """The L3 network the router of `l3` has (or will have) its public leg on; None if it needs none."""
    if not needs_public_leg(l3):
        return None
    vr = VirtualRouter.objects.filter(l3_network=l3).select_related("public_l3").first()
    if vr is not None and vr.public_l3_id:
        return vr.public_l3
    offering = default_offering(l3.l2_network.zone_id)
    return (offering.public_l3 or offering.management_l3) if offering else None


def _lock(l3):
    """Serialise changes to one router across workers (NICs of many VMs come at once)."""
    import django_rq

    # A waiter retries every 10 ms (redis-py's default is 100 ms): an update takes 20-50 ms, and with
    # many VMs starting at once each of their jobs waited here a 100 ms step or more.
    return django_rq.get_connection("default").lock(f"nimbo:router:{l3.pk}", timeout=120, blocking_timeout=120,
                                                    sleep=0.01)


def _names(l3, host=None):
    """The router's namespace (its state directory too) and private leg. The namespace names the host as
    well: a router moved between two sandbox hosts of one machine is two namespaces for a moment."""
    hexid = l3.pk.hex if hasattr(l3.pk, "hex") else str(l3.pk).replace("-", "")
    hosthex = "" if host is None else (host.pk.hex if hasattr(host.pk, "hex") else str(host.pk).replace("-", ""))
    return f"nimbo-vr-{hexid[:8]}-{hosthex[:4]}", f"vr{hexid[:10]}"


def reserve_router(l3):
    """Inside the operation that gives a VM its NIC on `l3` (after its address, under IPAM's lock of the L3's
    ranges): the L3's router record and its private address, taken now rather than when the first VM's job
    runs, so VMs created at once can never leave the router without an address. Not booted (no host)."""
    if served_by_router(l3) and not VirtualRouter.objects.filter(l3_network=l3).exists():
        _router_record(l3)


def _router_record(l3):
    from apps.networks.ipam import allocate_ip

    ip_range = l3.ip_ranges.order_by("start_ip").first()
    if ip_range is None:
        from apps.core.exceptions import JobFailed

        raise JobFailed(f"L3 network {l3.name} has no IP range: its router has no address to take.")
    vr = VirtualRouter(name=f"vr-{l3.name}"[:255], l3_network=l3, leg=_names(l3)[1], netmask=ip_range.netmask,
                       state=RouterState.STOPPED)
    if needs_public_leg(l3):
        vr.address = ip_range.gateway
    with transaction.atomic():
        vr.save()
        if not vr.address:
            used = allocate_ip(l3, owner=vr)
            vr.used_ip, vr.address = used, used.ip
            vr.save(update_fields=["used_ip", "address"])
    return vr


def _place(vr, host):
    """Give the router its host (its namespace there) and, for NAT, its public leg's address."""
    from apps.networks.ipam import allocate_ip

    l3 = vr.l3_network
    vr.host, vr.namespace, vr.state = host, _names(l3, host)[0], RouterState.STARTING
    fields = ["host", "namespace", "state"]
    if needs_public_leg(l3) and not vr.public_address:
        public_l3 = public_l3_of(l3)
        if public_l3 is None:
            from apps.core.exceptions import JobFailed

            raise JobFailed(f"Zone {l3.l2_network.zone} has no default virtual router offering: the router of "
                            f"{l3.name} has no public network for SNAT, port forwarding and EIPs.")
        used = allocate_ip(public_l3, owner=vr)
        vr.public_l3, vr.public_used_ip, vr.public_address = public_l3, used, used.ip
        vr.public_netmask, vr.public_gateway, vr.public_leg = used.netmask, used.gateway, f"vp{vr.leg[2:]}"
        fields += ["public_l3", "public_used_ip", "public_address", "public_netmask", "public_gateway", "public_leg"]
    with transaction.atomic():
        vr.save(update_fields=fields)
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


def _live_nics():
    from apps.compute.choices import VmState

    return {"vm_nic__isnull": False, "vm_nic__ip__isnull": False}, [VmState.DESTROYING, VmState.DESTROYED]


def nat_plan(vr):
    """The plain data `compile_nat` takes for one router: its legs, SNAT, and the enabled port forwarding
    rules and EIPs whose VIP is enabled and whose NIC is on the router's L3 (of a VM not being destroyed)."""
    l3 = vr.l3_network
    ip_range = l3.ip_ranges.order_by("start_ip").first()
    cidr = str(ipaddress.IPv4Network(f"{vr.address}/{vr.netmask}", strict=False)) if vr.address else \
        (ip_range.network_cidr if ip_range else "0.0.0.0/32")
    plan = {"private": {"dev": "eth0", "address": vr.address or "0.0.0.0", "cidr": cidr},
            "public": None, "snat": False, "port_forwarding": [], "eips": []}
    if not vr.public_address:
        return plan
    plan["public"] = {"dev": host_router.RouterSpec.public_inner, "address": vr.public_address}
    plan["snat"] = l3.provider_of(ServiceType.SNAT) == Provider.VIRTUAL_ROUTER
    live, gone = _live_nics()
    enabled = {"state": EnabledState.ENABLED, "vip__state": EnabledState.ENABLED, "vm_nic__l3_network": l3, **live}
    if l3.provider_of(ServiceType.PORT_FORWARDING) == Provider.VIRTUAL_ROUTER:
        rules = (PortForwardingRule.objects.filter(**enabled).exclude(vm_nic__vm_instance__state__in=gone)
                 .values_list("uuid", "vip__ip", "protocol", "vip_port_start", "vip_port_end", "vm_nic__ip",
                              "guest_port_start", "guest_port_end", "allowed_cidr"))
        plan["port_forwarding"] = [
            {"id": str(uuid)[:8], "vip": vip, "protocol": proto, "vip_ports": [vs, ve], "guest_ip": guest,
             "guest_ports": [gs if gs is not None else vs, ge if ge is not None else ve], "allowed_cidr": cidr_}
            for uuid, vip, proto, vs, ve, guest, gs, ge, cidr_ in rules]
    if l3.provider_of(ServiceType.EIP) == Provider.VIRTUAL_ROUTER:
        eips = (Eip.objects.filter(**enabled).exclude(vm_nic__vm_instance__state__in=gone)
                .values_list("uuid", "vip__ip", "vm_nic__ip"))
        plan["eips"] = [{"id": str(uuid)[:8], "vip": vip, "guest_ip": guest} for uuid, vip, guest in eips]
    return plan


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
    nat = nat_plan(vr)
    # The legs' MACs follow the namespace, which names the host: stable across rebuilds on one host, and a
    # moved router's two copies never share one (the new copy announces itself with gratuitous ARPs).
    spec = {"name": vr.namespace, "bridge": l3.l2_network.bridge_name, "leg": vr.leg,
            "address": f"{vr.address}/{prefix}", "files": compile_dnsmasq(plan),
            "host_netns": (vr.host.netns or None) if vr.host_id else None, "l2_networks": [l2_spec(l3.l2_network)],
            "tables": None, "vips": []}
    if vr.public_address:  # a router that only serves DHCP and DNS has no NAT and no public leg
        spec["tables"], spec["vips"] = compile_nat(nat), vip_addresses(nat)
        public_l2 = vr.public_l3.l2_network
        public_prefix = ipaddress.IPv4Network(f"0.0.0.0/{vr.public_netmask}").prefixlen
        spec["public"] = {"bridge": public_l2.bridge_name, "leg": vr.public_leg,
                          "address": f"{vr.public_address}/{public_prefix}", "gateway": vr.public_gateway}
        if public_l2.pk != l3.l2_network.pk:
            spec["l2_networks"].append(l2_spec(public_l2))
    return spec


def repairs(done, checking=False):
    """What `ensure_router` did beyond what a change asks for: the parts it had to rebuild. When `checking`
    (nothing was asked, the router is only compared with its plan), any NAT change was drift too."""
    routine = ("dnsmasq reloaded",) if checking else ROUTINE
    return [part for part in done or [] if part not in routine and (checking or not part.startswith("VIP "))]


def apply(vr, timeout=60, checking=False):
    """Converge the router on its host; what it did (when `checking`, only what it repaired)."""
    done = call_host(vr.host, "router.ensure_router", router_spec(vr), timeout=timeout)
    if checking:
        done = repairs(done, checking=True)
    fields = {"state": RouterState.RUNNING}
    if repairs(done, checking=checking):
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
        if applied > requested and VirtualRouter.objects.filter(l3_network=l3, host__isnull=False).exists():
            if ctx is not None:
                ctx.skip(f"Update the virtual router of {l3.name}", "another VM's job just updated it with this NIC")
            return []
        reading = time.time()  # NICs committed before this moment are in what apply() reads
        vr = _routers().filter(l3_network=l3).first()
        if vr is None:  # an L3 that got its router services after its VMs were created
            vr = _router_record(l3)
        booting = vr.host_id is None
        if booting:
            _place(vr, host)
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


def _routers():
    return VirtualRouter.objects.select_related("host__cluster", "l3_network__l2_network", "public_l3__l2_network")


def _placed_routers():
    return list(_routers().filter(host__isnull=False))


def reconcile_routers(ctx):
    """Job: re-apply every router; {router name: repairs} for those that had drifted."""
    drift = {}
    for vr in _placed_routers():
        with ctx.step(f"Check router {vr.name} on {vr.host.name}"):
            with _lock(vr.l3_network):
                done = apply(vr, checking=True)
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
                done = apply(vr, checking=True)
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


# --- NAT changes (port forwarding, EIPs, VIPs) ------------------------------------------------------------


@contextmanager
def locked(l3_ids):
    """Hold the routers of these L3 networks (ids; None is ignored) for a NAT change: taken before the
    change's transaction opens and released after it commits or rolls back, so two changes on one router
    never apply a state that misses the other's."""
    from apps.networks.models import L3Network

    with ExitStack() as stack:
        for l3_id in sorted({i for i in l3_ids if i}, key=str):
            stack.enter_context(_lock(L3Network(pk=l3_id)))
        yield


def update_routers(l3_ids):
    """Inside a NAT change's operation: apply the routers of these L3 networks on their hosts, each a step of
    the operation's Job; a router that could not apply fails the change (and rolls it back) with its error."""
    from apps.core.jobs import operation_skip, operation_step

    for l3_id in sorted({i for i in l3_ids if i}, key=str):
        vr = _routers().filter(l3_network_id=l3_id).first()
        if vr is None:
            from apps.networks.models import L3Network

            name = L3Network.objects.filter(pk=l3_id).values_list("name", flat=True).first()
            operation_skip(f"Update the virtual router of {name}", "it has no router yet: the first VM on it "
                           "boots the router with the whole NAT state")
            continue
        if vr.host_id is None:
            operation_skip(f"Update the virtual router {vr.name}", "the router has no host")
            continue
        with operation_step(f"Update the virtual router {vr.name} on {vr.host.name}"):
            apply(vr, timeout=30)


# --- The router's own life: rebuild, migrate, delete, leave a host ---------------------------------------


def _live_vm_nics(l3):
    from apps.compute.choices import VmState
    from apps.compute.models import VmNic

    return VmNic.objects.filter(l3_network=l3).exclude(vm_instance__state__in=[VmState.DESTROYING,
                                                                              VmState.DESTROYED])


def _destroy_on(vr, host, step, namespace=None):
    """Remove the router from `host` (where it had `namespace`); an unreachable host is said, not fatal (its
    agent rebuilds nothing: the router's record no longer points there)."""
    from apps.core.exceptions import NimboError

    spec = {**router_spec(vr), "host_netns": host.netns or None, "name": namespace or vr.namespace}
    try:
        call_host(host, "router.destroy_router", spec, timeout=30)
    except NimboError as exc:
        step(f"the router could not be removed from {host.name}: {exc}")


def boot_router(ctx, router):
    """Job: (re)build the router on its host with its whole state: namespace, legs, dnsmasq, NAT."""
    vr = _routers().get(pk=router)
    with _lock(vr.l3_network):
        with ctx.step(f"Remove the virtual router {vr.name} from {vr.host.name}", progress=30):
            _destroy_on(vr, vr.host, lambda why: ctx.set_result(warning=why))
        with ctx.step(f"Build the virtual router {vr.name} on {vr.host.name}: namespace, legs, dnsmasq, NAT",
                      progress=90):
            VirtualRouter.objects.filter(pk=vr.pk).update(state=RouterState.STARTING)
            done = apply(vr)
    ctx.set_result(parts=done)
    return {"parts": done}


def _stale_key(host):
    return f"nimbo:host:{host.pk}:stale-routers"


def move_router(vr, host, note=lambda why: None):
    """Build the router on `host` with its whole state, then remove it from its old host; an old host that is
    disconnected gets it removed when it is back (`remove_stale_routers`), so it never answers for the
    router's addresses next to the moved one."""
    from apps.infra.choices import HostStatus

    old, old_namespace = vr.host, vr.namespace
    old_spec = router_spec(vr) if old is not None else None
    vr.host, vr.namespace = host, _names(vr.l3_network, host)[0]
    VirtualRouter.objects.filter(pk=vr.pk).update(host=host, namespace=vr.namespace, state=RouterState.STARTING)
    apply(vr)
    if old is None or old.pk == host.pk:
        return
    if old.status == HostStatus.CONNECTED:
        _destroy_on(vr, old, note, namespace=old_namespace)
    else:
        import json

        import django_rq

        django_rq.get_connection("default").sadd(_stale_key(old), json.dumps(old_spec))
        note(f"{old.name} is {old.status}: the router is removed from it when it is back")


def remove_stale_routers(host):
    """A host back after a disconnection: remove the routers that moved away from it meanwhile."""
    import json

    import django_rq

    from apps.core.exceptions import NimboError

    redis = django_rq.get_connection("default")
    removed = []
    for raw in redis.smembers(_stale_key(host)):
        spec = json.loads(raw)
        try:
            call_host(host, "router.destroy_router", spec, timeout=30)
        except NimboError as exc:
            log.warning("stale router %s on %s: %s", spec["name"], host.name, exc)
            continue
        redis.srem(_stale_key(host), raw)
        removed.append(spec["name"])
    return removed


def evacuate(host):
    """A host gone away: each of its routers that serves VMs moves to another connected host of its cluster
    (a job each); the list of jobs started."""
    from apps.core.jobs import start_job

    target = _other_host(host)
    if target is None:
        return []
    return [start_job("migrateVirtualRouter", "apps.vrouter.jobs.migrate_router", target=vr,
                      params={"router": str(vr.pk), "host": str(target.pk)}, timeout=300)
            for vr in _routers().filter(host=host) if _live_vm_nics(vr.l3_network).exists()]


def migrate_router(ctx, router, host):
    """Job: move the router to another host of its cluster."""
    from apps.infra.models import Host

    vr = _routers().get(pk=router)
    target = Host.objects.select_related("cluster").get(pk=host)
    with _lock(vr.l3_network):
        with ctx.step(f"Move the virtual router {vr.name} from {vr.host.name} to {target.name}", progress=90):
            move_router(vr, target, lambda why: ctx.set_result(warning=why))
    return {"host": target.name}


def delete_router(vr):
    """Inside an operation: remove the router from its host and forget it, releasing its addresses. Refused
    while a VM uses its L3 (the router serves it: rebuild or migrate it instead)."""
    from apps.core.exceptions import InUse
    from apps.core.jobs import operation_step

    used = _live_vm_nics(vr.l3_network).count()
    if used:
        raise InUse(f"Virtual router {vr.name} still serves {used} VM NIC{'s' if used != 1 else ''} on "
                    f"L3 network {vr.l3_network}; rebuild or migrate it instead.")
    with _lock(vr.l3_network):
        if vr.host_id:
            with operation_step(f"Remove the virtual router {vr.name} from {vr.host.name}"):
                call_host(vr.host, "router.destroy_router", router_spec(vr), timeout=30)
        from apps.networks.ipam import release_ip

        used_ip, public = vr.used_ip, vr.public_used_ip
        vr.delete()
        release_ip(used_ip)
        release_ip(public)


def _other_host(host):
    from apps.infra.choices import HostStatus
    from apps.infra.models import Host

    return (Host.objects.select_related("cluster").filter(cluster=host.cluster_id, status=HostStatus.CONNECTED)
            .exclude(pk=host.pk).order_by("name").first())


def check_leave_host(host):
    """Refuse (409) to delete `host` while one of its routers serves VMs and no other connected host of its
    cluster can take it."""
    from apps.core.exceptions import InUse

    for vr in _routers().filter(host=host):
        if _live_vm_nics(vr.l3_network).exists() and _other_host(host) is None:
            raise InUse(f"Virtual router {vr.name} serves VMs on L3 network {vr.l3_network} and cluster "
                        f"{host.cluster} has no other connected host to move it to.")


def leave_host(host, step):
    """In the job deleting `host`: move its routers to another connected host of its cluster (each a step
    made by `step(name)`), or delete those no VM uses any more."""
    from apps.networks.ipam import release_ip

    check_leave_host(host)
    for vr in _routers().filter(host=host):
        with _lock(vr.l3_network):
            if _live_vm_nics(vr.l3_network).exists():
                target = _other_host(host)
                with step(f"Move the virtual router {vr.name} to {target.name}"):
                    move_router(vr, target)
                continue
            with step(f"Remove the virtual router {vr.name} from {host.name}"):
                _destroy_on(vr, host, lambda why: None)
                used_ip, public = vr.used_ip, vr.public_used_ip
                vr.delete()
                release_ip(used_ip)
                release_ip(public)
