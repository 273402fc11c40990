"""nimbo [global options] <resource> <command> [arguments]

Resources are the API's collections in the singular (zone, cluster, host, l3-network, vm...);
`security group` and `security group rule` may also be written in two or three words.
"""

import argparse
import os
import sys

from .client import ApiError, Client, load_config, save_config
from .output import listing, show

# resource -> (collection, columns of `list`)
RESOURCES = {
    "zone": ("zones", ["uuid", "name", "state"]),
    "cluster": ("clusters", ["uuid", "name", "zone_name", "hypervisor_type", "state"]),
    "host": ("hosts", ["uuid", "name", "management_ip", "status", "state"]),
    "instance-offering": ("instance-offerings", ["uuid", "name", "cpu_num", "cpu_speed", "memory_size"]),
    "primary-storage": ("primary-storages", ["uuid", "name", "type", "url"]),
    "backup-storage": ("backup-storages", ["uuid", "name", "type"]),
    "image": ("images", ["uuid", "name", "format", "media_type", "state"]),
    "l2-network": ("l2-networks", ["uuid", "name", "type", "physical_interface", "vlan"]),
    "l3-network": ("l3-networks", ["uuid", "name", "l2_network", "system"]),
    "vm": ("vms", ["uuid", "name", "state"]),
    "vip": ("vips", ["uuid", "name", "ip", "l3_network"]),
    "port-forwarding-rule": ("port-forwarding-rules", ["uuid", "name", "protocol", "vip_port_start", "vip_port_end"]),
    "eip": ("eips", ["uuid", "name", "vip", "vm_nic"]),
    "virtual-router": ("virtual-routers", ["uuid", "name", "l3_network_name", "host_name", "state", "address",
                                           "public_address"]),
    "security-group": ("security-groups", ["uuid", "name", "description", "revision_number"]),
    "security-group-rule": ("security-group-rules", ["id", "direction", "ethertype", "protocol", "port_range_min",
                                                     "port_range_max", "remote_ip_prefix", "remote_group_id"]),
    "job": ("jobs", ["uuid", "kind", "state", "progress", "target_name", "error"]),
}
ALIASES = {("security", "group", "rule"): "security-group-rule", ("security", "group"): "security-group"}


def _normalise(argv):
    """`security group rule create` -> `security-group-rule create`."""
    for words, name in sorted(ALIASES.items(), key=lambda kv: -len(kv[0])):
        n = len(words)
        for i in range(len(argv) - n + 1):
            if tuple(argv[i:i + n]) == words:
                return argv[:i] + [name] + argv[i + n:]
    return argv


def _pairs(values):
    data = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"nimbo: expected KEY=VALUE, got {item!r}")
        data[key] = value
    return data


def _port_range(text):
    low, _, high = text.partition(":")
    try:
        return int(low), int(high or low)
    except ValueError:
        raise SystemExit(f"nimbo: --dst-port expects PORT or MIN:MAX, got {text!r}") from None


def build_parser():
    parser = argparse.ArgumentParser(prog="nimbo", description="Nimbo's command-line client.")
    parser.add_argument("--url", default=os.environ.get("NIMBO_URL"), help="portal URL (NIMBO_URL)")
    parser.add_argument("--token", default=os.environ.get("NIMBO_TOKEN"), help="API token (NIMBO_TOKEN)")
    parser.add_argument("--project", default=os.environ.get("NIMBO_PROJECT"),
                        help="project to act in, name or id (NIMBO_PROJECT); default: your default project")
    parser.add_argument("-f", "--format", choices=["table", "json"], default="table")
    sub = parser.add_subparsers(dest="resource", required=True)

    login = sub.add_parser("login", help="get an API token and keep it in ~/.config/nimbo/config.json")
    login.add_argument("--username", required=True)
    login.add_argument("--password", default=os.environ.get("NIMBO_PASSWORD"))

    for name in RESOURCES:
        res = sub.add_parser(name)
        cmds = res.add_subparsers(dest="command", required=True)
        if name == "vip":
            _vip_trace_parser(cmds)
        lst = cmds.add_parser("list")
        lst.add_argument("--filter", action="append", metavar="KEY=VALUE", help="an API filter, e.g. state=Enabled")
        if name == "security-group-rule":
            lst.add_argument("group", nargs="?", help="only the rules of this group")
        for verb in ("show", "delete"):
            cmd = cmds.add_parser(verb)
            cmd.add_argument("ident", nargs="+" if verb == "delete" else None, help="id or name")
        if name == "security-group-rule":
            create = cmds.add_parser("create", help="add a rule to a group (Neutron's options)")
            create.add_argument("group")
            create.add_argument("--protocol", default=None, help="tcp, udp, icmp, a number 0-255, or any")
            create.add_argument("--dst-port", type=_port_range, help="PORT or MIN:MAX (ICMP: TYPE:CODE)")
            create.add_argument("--remote-ip", help="CIDR allowed (default 0.0.0.0/0 or ::/0)")
            create.add_argument("--remote-group", help="group whose members are allowed")
            direction = create.add_mutually_exclusive_group()
            direction.add_argument("--ingress", dest="direction", action="store_const", const="ingress")
            direction.add_argument("--egress", dest="direction", action="store_const", const="egress")
            create.add_argument("--ethertype", choices=["IPv4", "IPv6"])
            create.add_argument("--description", default="")
        else:
            create = cmds.add_parser("create")
            create.add_argument("name", nargs="?" if name == "job" else None)
            create.add_argument("--description")
            create.add_argument("--set", action="append", metavar="KEY=VALUE", help="any other field")
            update = cmds.add_parser("set")
            update.add_argument("ident")
            update.add_argument("--name")
            update.add_argument("--description")
            update.add_argument("--set", action="append", metavar="KEY=VALUE")
            action = cmds.add_parser("action", help="POST /<collection>/<id>/<action>/")
            action.add_argument("ident")
            action.add_argument("action")
            action.add_argument("--set", action="append", metavar="KEY=VALUE")
    _trace_parser(sub)
    return parser


def _trace_parser(sub):
    nic = sub.add_parser("nic", help="a VM NIC")
    cmds = nic.add_subparsers(dest="command", required=True)
    trace = cmds.add_parser("trace", help="why is this packet dropped? its path through the NIC's firewall")
    trace.add_argument("nic", help="the NIC's id")
    trace.add_argument("--direction", required=True, choices=["ingress", "egress"])
    trace.add_argument("--protocol", required=True, help="tcp, udp, icmp, icmpv6, sctp or a number")
    trace.add_argument("--src", help="source address (egress: the NIC's by default)")
    trace.add_argument("--dst", help="destination address (ingress: the NIC's by default)")
    for name in ("src-port", "dst-port", "icmp-type", "icmp-code"):
        trace.add_argument(f"--{name}", type=int)
    trace.add_argument("--state", default="new", help="conntrack state: new, established, related, invalid")
    trace.add_argument("--src-mac", help="the frame's source MAC (egress; the NIC's by default)")
    trace.add_argument("--compiled-only", action="store_true", help="do not read the host's live chains")


def _vip_trace_parser(cmds):
    trace = cmds.add_parser("trace", help="a packet from the public network to the VIP: through the router, "
                                          "then the guest's security groups")
    trace.add_argument("ident", help="the VIP's id or name")
    trace.add_argument("--protocol", required=True, help="tcp, udp or icmp")
    trace.add_argument("--src", required=True, help="the public source address")
    for name in ("src-port", "dst-port", "icmp-type", "icmp-code"):
        trace.add_argument(f"--{name}", type=int)
    trace.add_argument("--state", default="new")
    trace.add_argument("--compiled-only", action="store_true", help="do not read the live tables")


def vip_trace_lines(result):
    lines = []
    path = result.get("router_path")
    if path:
        for step in path["steps"]:
            mark = "=>" if step.get("decides") else "  "
            if step["kind"] == "chain":
                text = f"enter {step['table']} {step['chain']}"
            elif step["kind"] == "check":
                text = step["note"]
            else:
                count = f" [{step['packets']} pkts]" if step.get("packets") is not None else ""
                text = f"-A {step['chain']} {step['rule']}  -> {'matched' if step['matched'] else 'no match'}{count}"
            lines.append(f"{mark} {'router':<13} {text}")
        for d in (result.get("router_drift") or {}).get("chains", []):
            lines += [f"DRIFT router {d['table']} {d['chain']}: missing: {r}" for r in d["missing"]]
            lines += [f"DRIFT router {d['table']} {d['chain']}: only on the router: {r}" for r in d["extra"]]
    if result.get("nic_trace"):
        lines += trace_lines(result["nic_trace"])
    lines.append(f"VERDICT {result['verdict']}: {result['reason']}")
    return lines


def run_vip_trace(args, client, out):
    vip = client.find("vips", args.ident)
    body = {k: v for k, v in (("protocol", args.protocol), ("src", args.src), ("src_port", args.src_port),
                              ("dst_port", args.dst_port), ("icmp_type", args.icmp_type),
                              ("icmp_code", args.icmp_code), ("state", args.state)) if v is not None}
    body["live"] = not args.compiled_only
    result = client.post(f"vips/{vip['uuid']}/trace/", body)
    if args.format == "json":
        import json

        out(json.dumps(result, indent=2))
    else:
        for line in vip_trace_lines(result):
            out(line)


def trace_lines(result):
    """The trace as text, one line per step (ovn-trace style), the deciding step marked with "=>"."""
    path = result["live"] or result["compiled"]
    lines = []
    for step in path["steps"]:
        mark = "=>" if step.get("decides") else "  "
        if step["kind"] == "check":
            text = step["note"]
        elif step["kind"] == "chain":
            text = f"enter {step['chain']}" + (f" ({step['note']})" if step.get("note") else "")
        elif step["kind"] == "return":
            text = f"return from {step['chain']}"
        else:
            state = f"not understood: {step['unsupported']}" if step.get("unsupported") else (
                "matched" if step["matched"] else "no match")
            count = f" [{step['packets']} pkts]" if step.get("packets") is not None else ""
            text = f"{step['rule']}  -> {state}{count}"
        lines.append(f"{mark} {step.get('stage', ''):<13} {text}")
    verdict = f"{path['verdict']}: {path['reason']}"
    if path.get("rule"):
        rule = path["rule"]
        verdict += f" (rule {rule['id']} of group {rule.get('group_name', rule.get('group'))}: {rule['text']})"
    lines.append(verdict)
    if result["live"] is None:
        lines.append("(compiled chains only" + (f": the host could not be read: {result['live_error']})"
                                                if result.get("live_error") else ")"))
    drift = result.get("drift") or {}
    if drift.get("verdict_differs"):
        lines.append(f"DRIFT: as compiled the verdict would be {result['compiled']['verdict']}")
    for d in drift.get("chains", []):
        lines += [f"DRIFT {d['chain']}: missing on the host: {line}" for line in d["missing"]]
        lines += [f"DRIFT {d['chain']}: only on the host: {line}" for line in d["extra"]]
        if d.get("note"):
            lines.append(f"DRIFT {d['chain']}: {d['note']}")
    for d in drift.get("sets", []):
        lines.append(f"DRIFT set {d['set']}: missing {', '.join(d['missing']) or 'none'}; "
                     f"only on the host {', '.join(d['extra']) or 'none'}")
    return lines


def run_trace(args, client, out):
    body = {k: v for k, v in (("direction", args.direction), ("protocol", args.protocol), ("src", args.src),
                              ("dst", args.dst), ("src_port", args.src_port), ("dst_port", args.dst_port),
                              ("icmp_type", args.icmp_type), ("icmp_code", args.icmp_code),
                              ("state", args.state), ("src_mac", args.src_mac)) if v is not None}
    body["live"] = not args.compiled_only
    result = client.post(f"vm-nics/{args.nic}/trace/", body)
    if args.format == "json":
        import json

        out(json.dumps(result, indent=2))
    else:
        for line in trace_lines(result):
            out(line)


def run(args, client, out):
    if args.resource == "nic":
        return run_trace(args, client, out)
    if args.resource == "vip" and args.command == "trace":
        return run_vip_trace(args, client, out)
    collection, columns = RESOURCES[args.resource]
    fmt = args.format
    if args.command == "list":
        params = _pairs(args.filter)
        if getattr(args, "group", None):
            params["security_group_id"] = client.find("security-groups", args.group)["uuid"]
        listing(client.list_all(f"{collection}/", **params), columns, fmt, out)
    elif args.command == "show":
        show(client.find(collection, args.ident), fmt, out)
    elif args.command == "delete":
        for ident in args.ident:
            client.delete(f"{collection}/{client.find(collection, ident)[_id_key(collection)]}/")
    elif args.command == "create" and args.resource == "security-group-rule":
        show(client.post(f"{collection}/", _rule_payload(args, client)), fmt, out)
    elif args.command == "create":
        described = {"description": args.description} if args.description else {}
        data = {"name": args.name, **described, **_pairs(args.set)}
        show(client.post(f"{collection}/", data), fmt, out)
    elif args.command == "set":
        obj = client.find(collection, args.ident)
        data = {k: v for k, v in (("name", args.name), ("description", args.description)) if v is not None}
        show(client.patch(f"{collection}/{obj[_id_key(collection)]}/", {**data, **_pairs(args.set)}), fmt, out)
    elif args.command == "action":
        obj = client.find(collection, args.ident)
        result = client.post(f"{collection}/{obj[_id_key(collection)]}/{args.action}/", _pairs(args.set))
        if result is not None:
            show(result, fmt, out)


def _id_key(collection):
    return "id" if collection == "security-group-rules" else "uuid"


def _rule_payload(args, client):
    data = {"security_group_id": client.find("security-groups", args.group)["uuid"], "description": args.description}
    if args.direction:
        data["direction"] = args.direction
    if args.protocol is not None:
        data["protocol"] = None if args.protocol == "any" else args.protocol
    if args.dst_port:
        data["port_range_min"], data["port_range_max"] = args.dst_port
    if args.remote_ip:
        data["remote_ip_prefix"] = args.remote_ip
    if args.remote_group:
        data["remote_group_id"] = client.find("security-groups", args.remote_group)["uuid"]
    if args.ethertype:
        data["ethertype"] = args.ethertype
    return data


def main(argv=None, out=print, err=None):
    err = err or (lambda text: print(text, file=sys.stderr))
    args = build_parser().parse_args(_normalise(list(sys.argv[1:] if argv is None else argv)))
    config = load_config()
    url = args.url or config.get("url") or "http://localhost:8000"
    if args.resource == "login":
        import getpass

        password = args.password or getpass.getpass("Password: ")
        try:
            token = Client(url).post("auth/token/", {"username": args.username, "password": password})["token"]
        except ApiError as exc:
            err(f"nimbo: {exc}")
            return 1
        save_config({"url": url, "token": token})
        out(f"Logged in to {url} as {args.username}.")
        return 0
    client = Client(url, args.token or config.get("token"), project=args.project)
    try:
        run(args, client, out)
    except ApiError as exc:
        err(f"nimbo: {exc}")
        return 1
    except OSError as exc:
        err(f"nimbo: cannot reach {url}: {exc}")
        return 1
    return 0
