"""A packet from the public network to a VIP: through the router that holds the VIP (its compiled NAT), then,
once translated, through the security groups of the guest's NIC (apps.secgroups.tracing)."""

from apps.secgroups.trace import Packet

from .compile import compile_nat, vip_addresses
from .models import Eip, PortForwardingRule, VirtualRouter
from .trace import add_counters, router_drift, saved_router_tables, trace_router


def read_router(vr):
    """The router's live nat and filter tables with their counters, read through its host's agent."""
    from apps.infra.agent import call_host

    from .routers import router_spec

    return saved_router_tables(call_host(vr.host, "router.save_tables", router_spec(vr), timeout=30)["text"])


def routers_of(vip):
    """The routers holding `vip`: those of the L3s its port forwarding rules' and EIP's NICs are on, or the
    router whose own public address it is (SNAT)."""
    l3s = set(PortForwardingRule.objects.filter(vip=vip, vm_nic__isnull=False)
              .values_list("vm_nic__l3_network_id", flat=True))
    l3s |= set(Eip.objects.filter(vip=vip, vm_nic__isnull=False).values_list("vm_nic__l3_network_id", flat=True))
    routers = VirtualRouter.objects.filter(l3_network_id__in=l3s) if l3s else \
        VirtualRouter.objects.filter(public_address=vip.ip, public_l3=vip.l3_network)
    return list(routers.select_related("l3_network", "host"))


def trace_vip(vip, packet: Packet, live=True):
    """{"vip", "verdict", "reason", "router", "router_path", "nic", "nic_trace"} of a packet sent to `vip`."""
    from apps.compute.models import VmNic
    from apps.secgroups.tracing import trace_nic

    from .routers import nat_plan

    out = {"vip": str(vip.pk), "router": None, "router_path": None, "nic": None, "nic_trace": None}
    routers = routers_of(vip)
    if not routers:
        return {**out, "verdict": "DROP", "reason": "no port forwarding rule or EIP uses this VIP"}
    vr = routers[0]
    nat = nat_plan(vr)
    if not nat.get("public"):
        return {**out, "verdict": "DROP", "reason": f"router {vr.name} has no public leg"}
    info = {"inside": nat["private"]["dev"], "outside": nat["public"]["dev"],
            "addresses": [nat["public"]["address"], *vip_addresses(nat)]}
    compiled = compile_nat(nat)
    path = trace_router(compiled, info, packet)
    out.update(router={"uuid": str(vr.pk), "name": vr.name}, router_path=path, router_compiled_path=path,
               router_live_error="", router_drift=None)
    if live and vr.host_id:
        try:
            live_tables, counters = read_router(vr)
        except Exception as exc:  # noqa: BLE001 - the host may be down: the compiled path still answers
            out["router_live_error"] = str(exc)
        else:
            path = add_counters(trace_router(live_tables, info, packet), counters)
            out.update(router_path=path, router_drift=router_drift(compiled, live_tables, out["router_compiled_path"],
                                                                   path))
    if path["verdict"] != "FORWARD":
        return {**out, "verdict": "DROP", "reason": f"at router {vr.name}: {path['reason']}"}
    translated = path["packet"]
    nic = (VmNic.objects.filter(l3_network=vr.l3_network, ip=translated["dst"])
           .select_related("vm_instance__host").first())
    if nic is None:
        return {**out, "verdict": "DROP", "reason": f"no NIC holds {translated['dst']} on {vr.l3_network.name}"}
    inner = Packet("ingress", packet.protocol, translated["src"], translated["dst"], translated["src_port"],
                   translated["dst_port"], packet.icmp_type, packet.icmp_code, packet.state)
    nic_trace = trace_nic(nic, inner, live=live)
    final = nic_trace["live"] or nic_trace["compiled"]
    return {**out, "nic": str(nic.pk), "nic_trace": nic_trace, "verdict": final["verdict"],
            "reason": f"{path['reason']} to {translated['dst']}; at the NIC: {final['reason']}"}
