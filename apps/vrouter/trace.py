"""A packet from the public network to a VIP, walked through the virtual router's NAT (pure: plain data in,
a path out).

The tables are those `compile_nat` writes ({"nat": {chain: [rule]}, "filter": {...}}, rules without
"-A <chain> ", as `workers.host.router.parse_save` reads them back too). Netfilter's order for a packet
arriving on the public leg: nat PREROUTING (port forwarding and EIP DNAT), routing (to the router itself
or on to the private leg), filter FORWARD (only what was DNATed, or replies, gets in from outside), nat
POSTROUTING (the hairpin SNAT). The result is the translated packet, which goes on into the security group
trace of the guest's NIC (`apps.secgroups.trace`).
"""

import ipaddress

from apps.secgroups.trace import PROTOCOLS, Unsupported, _in_prefix, _ports, tokens_of


def _match(rule, pkt, ctx):
    """(target, its argument, matched, comment) of one router rule for `pkt` (a dict: src, dst, proto,
    src_port, dst_port); ctx: {"in", "out", "states"}."""
    tokens = tokens_of(rule)
    target, arg_out, comment, matched, negate, i = None, None, "", True, False, 0
    while i < len(tokens):
        tok = tokens[i]
        arg = tokens[i + 1] if i + 1 < len(tokens) else ""
        result = None
        if tok == "!":
            negate, i = True, i + 1
            continue
        if tok == "-j":
            target = arg
        elif tok in ("--to-destination", "--to-source"):
            arg_out = arg
        elif tok == "-m":
            pass
        elif tok == "-s":
            result = _in_prefix(pkt["src"], arg)
        elif tok == "-d":
            result = _in_prefix(pkt["dst"], arg)
        elif tok == "-p":
            result = (int(arg) if arg.isdigit() else PROTOCOLS.get(arg)) == pkt["proto"]
        elif tok == "--dport":
            result = _ports(arg, pkt.get("dst_port"))
        elif tok == "--sport":
            result = _ports(arg, pkt.get("src_port"))
        elif tok in ("-i", "-o"):
            result = ctx.get("in" if tok == "-i" else "out") == arg
        elif tok == "--ctstate":
            result = bool(ctx["states"] & set(arg.split(",")))
        elif tok == "--comment":
            comment = arg
        else:
            raise Unsupported(tok)
        if result is not None:
            matched = matched and (not result if negate else result)
        negate = False
        i += 2
    return target, arg_out, matched, comment


def _walk(table, chains, start, pkt, ctx, steps, stop):
    """Walk a chain of the router's table; returns (target, argument, comment) of the first rule whose
    target is in `stop`, or None when the chain ends (the built-in chain's policy: ACCEPT)."""
    stack, chain, index = [], start, 0
    steps.append({"kind": "chain", "stage": "router", "table": table, "chain": start})
    while True:
        rules = chains.get(chain, [])
        if index >= len(rules):
            if not stack:
                return None
            chain, index = stack.pop()
            continue
        rule = rules[index]
        index += 1
        step = {"kind": "rule", "stage": "router", "table": table, "chain": chain, "index": index, "rule": rule}
        try:
            target, arg, matched, comment = _match(rule, pkt, ctx)
        except Unsupported as exc:
            steps.append({**step, "matched": False, "unsupported": str(exc)})
            continue
        steps.append({**step, "matched": matched, "target": target})
        if not matched:
            continue
        if target in stop:
            steps[-1]["decides"] = True
            return target, arg, comment
        if target == "RETURN":
            if not stack:
                return None
            chain, index = stack.pop()
        elif target in chains:
            stack.append((chain, index))
            chain, index = target, 0
            steps.append({"kind": "chain", "stage": "router", "table": table, "chain": chain})


def _dnat(pkt, to):
    """The packet after `--to-destination ip[:port | :first-last/base]`."""
    address, _, ports = to.partition(":")
    out = {**pkt, "dst": address}
    if ports:
        first, _, rest = ports.partition("-")
        if rest:
            base = int(rest.split("/")[1]) if "/" in rest else int(first)
            out["dst_port"] = int(first) + (pkt["dst_port"] - base)
        else:
            out["dst_port"] = int(first)
    return out


def trace_router(tables, router, packet):
    """The path of `packet` (apps.secgroups.trace.Packet: from the public network to a VIP) through the router.

    router: {"inside": private leg device, "outside": public leg device, "addresses": the router's own
    addresses (its public address and VIPs)}. Returns {"verdict": "FORWARD" | "LOCAL" | "DROP", "reason",
    "rule": the port forwarding or EIP comment that translated it, "packet": the packet after NAT, "steps"}."""
    pkt = {"src": packet.src, "dst": packet.dst, "proto": packet.proto_number, "src_port": packet.src_port,
           "dst_port": packet.dst_port}
    steps = []
    states = {packet.state.upper()}
    ctx = {"in": router["outside"], "out": None, "states": states}
    nat, filter_ = tables.get("nat", {}), tables.get("filter", {})
    hit = _walk("nat", nat, "PREROUTING", pkt, ctx, steps, ("DNAT", "ACCEPT", "DROP"))
    rule = None
    if hit and hit[0] == "DNAT":
        pkt, rule = _dnat(pkt, hit[1]), hit[2]
        states.add("DNAT")
        steps.append({"kind": "check", "stage": "router",
                      "note": f"DNAT by {hit[2] or 'a rule'}: to {pkt['dst']}" +
                              (f" port {pkt['dst_port']}" if pkt.get("dst_port") else "")})
    own = {str(ipaddress.ip_address(a.split("/")[0])) for a in router.get("addresses", ())}
    if pkt["dst"] in own:
        steps.append({"kind": "check", "stage": "router", "note": f"{pkt['dst']} is the router's own address"})
        return {"verdict": "LOCAL", "rule": None, "packet": _plain(pkt, packet), "steps": steps,
                "reason": "no port forwarding rule or EIP matched: the router itself receives it, no VM does"}
    ctx["out"] = router["inside"]
    hit = _walk("filter", filter_, "FORWARD", pkt, ctx, steps, ("ACCEPT", "DROP", "REJECT"))
    if hit and hit[0] != "ACCEPT":
        return {"verdict": "DROP", "rule": None, "packet": _plain(pkt, packet), "steps": steps,
                "reason": "the router forwards from the public network only what a port forwarding rule or an "
                          "EIP translated, and replies"}
    hit = _walk("nat", nat, "POSTROUTING", pkt, ctx, steps, ("SNAT", "MASQUERADE", "ACCEPT"))
    if hit and hit[0] == "SNAT":
        pkt = {**pkt, "src": hit[1].split(":")[0]}
        steps.append({"kind": "check", "stage": "router", "note": f"SNAT: source becomes {pkt['src']}"})
    reason = f"translated by {rule}" if rule else "forwarded without translation"
    return {"verdict": "FORWARD", "rule": rule, "packet": _plain(pkt, packet), "steps": steps, "reason": reason}


def _plain(pkt, packet):
    return {"src": pkt["src"], "dst": pkt["dst"], "protocol": packet.protocol, "src_port": pkt.get("src_port"),
            "dst_port": pkt.get("dst_port"), "icmp_type": packet.icmp_type, "icmp_code": packet.icmp_code,
            "state": packet.state}


def saved_router_tables(text):
    """({table: {chain: [rule]}}, {table: {chain: [(pkts, bytes)]}}) from `iptables-save -c` of a router."""
    from workers.host.router import parse_save

    counters = {}
    return parse_save(text, counters), counters


def add_counters(path, counters):
    """Each rule step of `path` with its packet counter from the live tables."""
    for step in path["steps"]:
        if step["kind"] == "rule":
            counts = counters.get(step["table"], {}).get(step["chain"], [])
            if step["index"] - 1 < len(counts) and counts[step["index"] - 1] is not None:
                step["packets"], step["bytes"] = counts[step["index"] - 1]
    return path


def router_drift(compiled, live, compiled_path, live_path):
    """The chains either path went through whose rules differ between the compiled tables and the router's."""
    seen, out = [], []
    for path in (compiled_path, live_path):
        for step in path["steps"]:
            if step["kind"] == "chain" and (step["table"], step["chain"]) not in seen:
                seen.append((step["table"], step["chain"]))
    for table, chain in seen:
        want = compiled.get(table, {}).get(chain, [])
        have = live.get(table, {}).get(chain, [])
        missing, extra = [r for r in want if r not in have], [r for r in have if r not in want]
        if missing or extra:
            out.append({"table": table, "chain": chain, "missing": missing, "extra": extra})
    return {"chains": out, "verdict_differs": compiled_path["verdict"] != live_path["verdict"]
            or compiled_path["packet"] != live_path["packet"]}
