"""The packet trace of a VM NIC: the compiled path, then the live one read back from its host, and the drift.

The pure walk is `apps.secgroups.trace`; this module gathers what it needs from the database (the host's
compiled plan, the groups' names) and from the host (its chains with their counters and its ipsets, read by
the host operation "firewall.save")."""

from .models import SecurityGroup
from .state import host_plan
from .sync import host_namespace
from .trace import Packet, drift_on_path, plan_nic, plan_rules, plan_tables, saved_tables, trace


def read_host(host):
    """What the host really holds (workers.host.fwsave.save_tables): in process for a sandbox host,
    through its agent for a real one."""
    netns = host_namespace(host)
    if not netns:
        from apps.infra.agent import call_host

        return call_host(host, "firewall.save", {}, timeout=30)
    from workers.host import fwsave

    return fwsave.save_tables(netns)


def _canonical(line):
    from workers.host.firewall import _canonical

    return _canonical(line)


def trace_nic(nic, packet: Packet, live=True):
    """{"nic", "host", "packet", "compiled": path, "live": path | None, "live_error", "drift"} of one packet."""
    host = nic.vm_instance.host
    out = {"nic": str(nic.pk), "host": str(host.pk) if host else None, "compiled": None, "live": None,
           "live_error": "", "drift": None}
    plan = host_plan(host) if host else None
    entry = plan_nic(plan, nic.pk) if plan else None
    if entry is None:
        # The NIC is in no group (or its VM is on no host): nothing of Nimbo's firewall filters it.
        entry = {"id": str(nic.pk), "device": nic.internal_name, "mac": (nic.mac or "").lower(),
                 "ips": [nic.ip] if nic.ip else [], "groups": [], "egress_default": True}
        plan = plan or {"v4": {"chains": {}}, "v6": {"chains": {}}, "eb": {"chains": {}}, "ipsets": {},
                        "groups": {}}
    rules = _named(plan_rules(plan), plan)
    compiled_tables = plan_tables(plan)
    other = packet.src if packet.direction == "ingress" else packet.dst
    peer = next(({"id": nid, "device": n["device"], "mac": n["mac"]} for nid, n in plan.get("nics", {}).items()
                 if nid != str(nic.pk) and other in [ip.split("/")[0] for ip in n["ips"]]), None)
    out["compiled"] = trace(compiled_tables, entry, packet, rules, peer)
    out["packet"] = out["compiled"]["packet"]
    if live and host is not None:
        try:
            live_tables = saved_tables(read_host(host))
        except Exception as exc:  # noqa: BLE001 - the host may be down: the compiled path still answers
            out["live_error"] = str(exc)
        else:
            out["live"] = trace(live_tables, entry, packet, rules, peer)
            out["drift"] = drift_on_path(compiled_tables, live_tables, out["compiled"], out["live"], _canonical)
    return out


def _named(rules, plan):
    """The rules with their group's name and, for a remote-group rule, the remote group's name."""
    from .models import SecurityGroupRule

    remote = dict(SecurityGroupRule.objects.filter(uuid__in=list(rules)).values_list("uuid", "remote_group_id"))
    remote = {str(k): str(v) for k, v in remote.items() if v}
    ids = {r["group"] for r in rules.values()} | set(remote.values())
    names = {str(pk): name for pk, name in SecurityGroup.objects.filter(pk__in=ids).values_list("pk", "name")}
    for rid, rule in rules.items():
        rule["group_name"] = names.get(rule["group"], rule["group"])
        if rid in remote:
            rule["remote_group"] = names.get(remote[rid], remote[rid])
    return rules


TRACE_FIELDS = ("direction", "protocol", "src", "dst", "src_port", "dst_port", "icmp_type", "icmp_code", "state",
                "src_mac")


def trace_form(nic, query):
    """The firewall page's trace form (GET, so a trace is a link one can share): {"values", "errors", "result"};
    nothing is traced until the form is sent (a `direction` in the query)."""
    from .api.trace import TraceSerializer, packet_of

    values = {name: query.get(name, "") for name in TRACE_FIELDS}
    values["state"] = values["state"] or "new"
    out = {"values": values, "errors": {}, "result": None, "directions": ["ingress", "egress"],
           "states": ["new", "established", "related", "invalid"]}
    if "direction" not in query:
        return out
    data = {k: v for k, v in values.items() if v != ""}
    serializer = TraceSerializer(data=data, context={"nic": nic})
    if not serializer.is_valid():
        out["errors"] = {field: " ".join(str(e) for e in errors) for field, errors in serializer.errors.items()}
        return out
    result = trace_nic(nic, packet_of(serializer.validated_data))
    result["shown"] = result["live"] or result["compiled"]
    out["result"] = result
    return out
