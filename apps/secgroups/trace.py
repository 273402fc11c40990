"""Why is this packet dropped? Walk one packet through a NIC's firewall chains (pure: plain data in, a path out).

The chains are those the compiler writes (`apps.secgroups.compile.compile_host`) or those read back from
the host (`workers.host.fwsave.save_tables`), as iptables-save / ebtables-save print them. The walk follows
the netfilter order for a bridged packet of the NIC:

    egress  (from the NIC): the link layer first (ebtables nat PREROUTING -> nimbo-PREROUTING -> nimbo-l-<nic>:
            the frame's source MAC), then the filter table from nimbo-FORWARD (anti-spoofing chain nimbo-s-<nic>,
            egress chain nimbo-o-<nic>, its groups' nimbo-ge-<group>, then nimbo-in)
    ingress (to the NIC): the filter table from nimbo-FORWARD (nimbo-sg, nimbo-in, nimbo-i-<nic>, its groups'
            nimbo-gi-<group>)

Every rule tried is one step, matched or not; a jump enters a chain; ACCEPT / DROP end the walk; the end of a
user chain returns to its caller. The result names the verdict and what decided it: the security-group rule
(its id from the rule's `r:<id>` comment), or a default of the firewall (anti-spoofing, conntrack, DHCP, DNS
to the router, open egress), or "no rule allowed it (default drop)".

Only the matches the compiler writes are understood; any other makes the step "unsupported" (counted as not
matched, and said so), so a rule edited by hand into something else is visible rather than guessed.
"""

import functools
import ipaddress
import re
from dataclasses import asdict, dataclass

from workers.host.router import split_counters as parse_counters  # noqa: F401 - this module's name for it
from workers.host.sgnames import (L2_TOP_CHAIN, PROTOCOL_NAMES,
                                  TOP_CHAIN, nic_chains)

PROTOCOLS = {name: number for number, name in PROTOCOL_NAMES.items()}
PROTOCOLS.update({"icmpv6": 58, "ipv6-icmp": 58})
STATES = ("new", "established", "related", "invalid")
TERMINAL = ("ACCEPT", "DROP", "REJECT")
DEFAULT_DROP = "no rule allowed it (default drop)"


@dataclass(frozen=True)
class Packet:
    """One packet of a NIC. `protocol`: a name (tcp, udp, icmp, ipv6-icmp...) or a number; "any" is not a
    packet. ICMP packets carry `icmp_type` / `icmp_code`; `src_mac` defaults to the NIC's MAC on egress."""

    direction: str  # "ingress" (to the NIC) | "egress" (from the NIC)
    protocol: str
    src: str
    dst: str
    src_port: int | None = None
    dst_port: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    state: str = "new"
    src_mac: str | None = None

    @property
    def family(self):
        return "v6" if ":" in self.src else "v4"

    @property
    def proto_number(self):
        text = str(self.protocol).lower()
        if text.isdigit():
            number = int(text)
        else:
            number = PROTOCOLS[text]
        if number in (1, 58):  # ICMP of the packet's family
            return 58 if self.family == "v6" else 1
        return number


# --- matching one rule ----------------------------------------------------------------------------


class Unsupported(Exception):
    pass


_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')


@functools.lru_cache(maxsize=65536)
def tokens_of(line):
    """A rule's words, a double-quoted word (a comment) as one word without its quotes."""
    return tuple(quoted if quoted or plain == "" else plain for quoted, plain in _TOKEN.findall(line))


@functools.lru_cache(maxsize=65536)
def _network(prefix):
    return ipaddress.ip_network(prefix, strict=False)


def _in_prefix(address, prefix):
    try:
        return ipaddress.ip_address(address) in _network(prefix)
    except ValueError:
        return False


def _ports(text, value):
    if value is None:
        return False
    low, _, high = text.partition(":")
    return int(low or 0) <= value <= int(high or low or 65535)


def _icmp(text, pkt):
    kind, _, code = text.partition("/")
    if not kind.isdigit():
        raise Unsupported(f"ICMP type {text}")
    if pkt.icmp_type != int(kind):
        return False
    return not code or pkt.icmp_code == int(code)


def _tcp_flags(mask, comp, pkt):
    # A new connection starts with a SYN; any later packet carries ACK.
    flags = {"SYN"} if pkt.state == "new" else {"ACK"}
    mask = set(mask.split(","))
    return (flags & mask) == (set(comp.split(",")) - {"NONE"})


def ip_match(line, pkt, ctx):
    """(chain, target, matched, rule id) of one iptables-save line for `pkt`.

    ctx: {"in": device the packet comes from, "out": device it goes to, "mac": its source MAC,
          "sets": {name: [members]}}. Raises Unsupported for a match the tracer does not know."""
    tokens = tokens_of(line)
    if len(tokens) < 2 or tokens[0] != "-A":
        raise Unsupported(line)
    chain, target, rule_id, matched = tokens[1], None, None, True
    i, negate = 2, False
    proto = pkt.proto_number
    while i < len(tokens):
        tok = tokens[i]
        arg = tokens[i + 1] if i + 1 < len(tokens) else ""
        step, result = 2, None
        if tok == "!":
            negate, i = True, i + 1
            continue
        if tok == "-j":
            target = arg
        elif tok == "-m":
            pass  # the module's options follow
        elif tok == "-s":
            result = _in_prefix(pkt.src, arg)
        elif tok == "-d":
            result = _in_prefix(pkt.dst, arg)
        elif tok == "-p":
            wanted = int(arg) if arg.isdigit() else PROTOCOLS.get(arg)
            if wanted is None:
                raise Unsupported(f"protocol {arg}")
            result = wanted == proto
        elif tok == "--dport":
            result = _ports(arg, pkt.dst_port)
        elif tok == "--sport":
            result = _ports(arg, pkt.src_port)
        elif tok in ("--icmp-type", "--icmpv6-type"):
            result = _icmp(arg, pkt)
        elif tok == "--tcp-flags":
            result = _tcp_flags(arg, tokens[i + 2], pkt)
            step = 3
        elif tok == "--ctstate":
            result = pkt.state.upper() in arg.split(",")
        elif tok == "--mac-source":
            result = (ctx.get("mac") or "").lower() == arg.lower()
        elif tok in ("--physdev-in", "--physdev-out"):
            result = ctx.get("in" if tok == "--physdev-in" else "out") == arg
        elif tok == "--physdev-is-bridged":
            step = 1
        elif tok == "--match-set":
            address = pkt.src if tokens[i + 2] == "src" else pkt.dst
            if arg not in ctx.get("sets", {}):
                raise Unsupported(f"ipset {arg} (not on the host)")
            result = address.split("/")[0] in ctx["sets"][arg]
            step = 3
        elif tok == "--comment":
            if arg.startswith("r:"):
                rule_id = arg[2:]
        else:
            raise Unsupported(tok)
        if result is not None:
            if negate:
                result = not result
            matched = matched and result
        negate = False
        i += step
    return chain, target, matched, rule_id


def eb_match(line, pkt, ctx):
    """(chain, target, matched) of one ebtables-save line (Nimbo's link-layer checks) for an IP packet."""
    tokens = line.split()
    chain, target, matched = tokens[1], None, True
    i = 2
    while i < len(tokens):
        tok = tokens[i]
        negate = i + 1 < len(tokens) and tokens[i + 1] == "!"
        arg = tokens[i + 2] if negate else (tokens[i + 1] if i + 1 < len(tokens) else "")
        result = None
        if tok == "-j":
            target = arg
        elif tok == "-i":
            result = ctx.get("in") == arg
        elif tok == "-s":
            result = (ctx.get("mac") or "").lower() == arg.lower()
        elif tok == "-p":
            result = arg == ("IPv6" if pkt.family == "v6" else "IPv4")
        elif tok.startswith("--arp-"):
            result = False  # the packet is IP, not ARP
        elif tok == "-c":
            break  # counters printed at the end (ebtables-save -c)
        else:
            raise Unsupported(tok)
        if result is not None:
            matched = matched and (not result if negate else result)
        i += 3 if negate else 2
    return chain, target, matched


# --- walking --------------------------------------------------------------------------------------


def _walk(chains, start, pkt, ctx, steps, counters, match, stage):
    """Walk from `start`; returns (verdict, the line that gave it or None, the matched rule ids in order)."""
    if start not in chains:
        steps.append({"kind": "chain", "stage": stage, "chain": start, "note": "chain absent"})
        return None, None, []
    stack, chain, index, decided = [], start, 0, []
    steps.append({"kind": "chain", "stage": stage, "chain": start})
    while True:
        lines = chains.get(chain, [])
        if index >= len(lines):
            steps.append({"kind": "return", "stage": stage, "chain": chain})
            if not stack:
                return None, None, decided
            chain, index = stack.pop()
            continue
        line = lines[index]
        step = {"kind": "rule", "stage": stage, "chain": chain, "index": index + 1, "rule": line}
        counts = counters.get(chain)
        if counts and index < len(counts) and counts[index] is not None:
            step["packets"], step["bytes"] = counts[index]
        try:
            _, target, matched, *rule = match(line, pkt, ctx)
            rule_id = rule[0] if rule else None
        except Unsupported as exc:
            step.update(matched=False, unsupported=str(exc))
            steps.append(step)
            index += 1
            continue
        step.update(matched=matched, target=target)
        if rule_id:
            step["rule_id"] = rule_id
        steps.append(step)
        index += 1
        if not matched:
            continue
        if rule_id:
            decided.append(step)
        if target in TERMINAL:
            return target, step, decided
        if target == "RETURN":
            if not stack:
                return None, None, decided
            chain, index = stack.pop()
            continue
        if target in chains:
            stack.append((chain, index))
            chain, index = target, 0
            steps.append({"kind": "chain", "stage": stage, "chain": chain})
        elif target:
            steps[-1]["note"] = f"target {target} not followed"


def trace(tables, nic, packet, rules=None, peer=None):
    """The path of `packet` through the firewall of `nic` (a plan["nics"] entry plus its "id").

    tables: {"v4": {chain: [lines]}, "v6": {...}, "eb": {...}, "sets": {ipset: [members]},
             "counters": {"v4": {chain: [(pkts, bytes) | None per line]}, ...}}  (counters optional)
    rules: {rule id: rule as plain data (compile._rule_data) plus "group"}: to say the deciding rule.
    peer: {"id", "device", "mac"} of the filtered NIC on the same host at the other end of the packet, if any:
    its own checks are on the path too (the sender's egress, the receiver's ingress).
    tables["jumps"] (read back from a host): {"v4" | "v6" | "eb": whether the one jump into Nimbo's chains is
    there}; without it Nimbo's chains are never reached.
    Returns {"verdict": "ACCEPT" | "DROP", "reason", "rule": {...} | None, "steps": [...]}."""
    rules = rules or {}
    ingress_chain, spoof_chain, egress_chain = nic_chains(nic["id"])
    family = packet.family
    mac = (packet.src_mac or (nic.get("mac") if packet.direction == "egress" else "") or "").lower()
    ctx = {"sets": tables.get("sets", {}), "mac": mac,
           "in": nic["device"] if packet.direction == "egress" else None,
           "out": nic["device"] if packet.direction == "ingress" else None}
    counters = tables.get("counters", {})
    steps = []
    jumps = tables.get("jumps", {})
    if peer:
        if packet.direction == "ingress":
            ctx["in"] = peer["device"]
            ctx["mac"] = (packet.src_mac or peer.get("mac") or "").lower()
        else:
            ctx["out"] = peer["device"]
        steps.append({"kind": "check", "stage": "host",
                      "note": f"the other end is NIC {peer['id']} ({peer['device']}) on this host: "
                              "its checks apply too"})

    def result(verdict, reason, step=None, rule_step=None):
        if step is not None:
            step["decides"] = True
        rule = None
        if rule_step is not None:
            rule_step["decides"] = True
            rid = rule_step["rule_id"]
            rule = {"id": rid, **rules.get(rid, {})}
            rule["text"] = describe(rules[rid]) if rid in rules else f"rule {rid} (not in the compiled plan)"
        return {"verdict": verdict, "reason": reason, "rule": rule, "steps": steps, "packet": asdict(packet)}

    if packet.direction == "egress":
        steps.append({"kind": "check", "stage": "anti-spoofing",
                      "note": f"link layer: frame from {nic['device']} with source MAC {mac or '?'}"})
        if jumps.get("eb", True):
            verdict, step, _ = _walk(tables.get("eb", {}), L2_TOP_CHAIN, packet, ctx, steps, counters.get("eb", {}),
                                     eb_match, "anti-spoofing")
        else:
            verdict = None
            steps.append({"kind": "check", "stage": "anti-spoofing", "drift": True,
                          "note": f"no jump from PREROUTING into {L2_TOP_CHAIN} on the host: the check is skipped"})
        if verdict == "DROP":
            return result("DROP", f"anti-spoofing: source MAC {mac} is not the NIC's ({nic.get('mac')})", step)
    else:
        steps.append({"kind": "check", "stage": "anti-spoofing", "note": "not applied to traffic to the NIC"})

    if not jumps.get(family, True):
        steps.append({"kind": "check", "stage": "filter", "drift": True,
                      "note": f"no jump from FORWARD into {TOP_CHAIN} on the host: Nimbo's chains are never reached"})
        return result("ACCEPT", f"not filtered: the host's FORWARD has no jump into {TOP_CHAIN}")
    verdict, step, decided = _walk(tables.get(family, {}), TOP_CHAIN, packet, ctx, steps,
                                   counters.get(family, {}), ip_match, "filter")
    if step is None and verdict is None:
        if TOP_CHAIN not in tables.get(family, {}):
            return result("ACCEPT", "the host filters no NIC: nothing of Nimbo's firewall applies")
        return result("ACCEPT", "left Nimbo's chains without a verdict (the host's FORWARD goes on)")
    chain, line = step["chain"], step["rule"]
    if verdict != "ACCEPT" and peer and chain in nic_chains(peer["id"]):
        _, base = _drop_reason(chain, line, nic_chains(peer["id"]), packet, ctx["mac"])
        side = "sender's egress" if packet.direction == "ingress" else "receiver's ingress"
        return result(verdict, f"at NIC {peer['id']} ({side}): {base}", step)
    if verdict != "ACCEPT":
        if chain == spoof_chain:
            return result(verdict, f"anti-spoofing: source {packet.src} / MAC {mac or '?'} is not the NIC's", step)
        if "--ctstate INVALID" in line:
            return result(verdict, "conntrack state INVALID", step)
        if "--tcp-flags" in line:
            return result(verdict, "TCP segment of no known connection (not a SYN)", step)
        if chain in (ingress_chain, egress_chain) and line == f"-A {chain} -j DROP":
            return result(verdict, DEFAULT_DROP, step)
        if step.get("rule_id"):
            return result(verdict, "dropped by a rule", step, step)
        return result(verdict, "dropped by a default of the firewall", step)
    own_groups = set(_group_chains_of(nic, packet.direction))
    mine = [s for s in decided if s["chain"] in own_groups]
    if mine:
        rule_step = mine[0]
        return result("ACCEPT", "allowed by a security group rule", step, rule_step)
    own = [s for s in steps if s["kind"] == "rule" and s.get("matched")
           and s["chain"] in (ingress_chain, egress_chain) and not s.get("unsupported")]
    last = own[-1] if own else step
    text = last["rule"]
    if "RELATED,ESTABLISHED" in text:
        reason = "part of a connection already allowed (conntrack RELATED,ESTABLISHED)"
    elif "--dport 67" in text or "--dport 68" in text or "--dport 546" in text or "--dport 547" in text:
        reason = "DHCP: always allowed"
    elif "--dport 53" in text:
        reason = "DNS to the router: always allowed"
    elif "icmp6" in text:
        reason = "IPv6 neighbour discovery: always allowed"
    elif packet.direction == "egress" and nic.get("egress_default"):
        reason = "egress is open: none of the NIC's groups holds an egress rule"
    else:
        reason = "accepted by a default of the firewall"
    return result("ACCEPT", reason, last)


def _drop_reason(chain, line, chains, packet, mac):
    ingress_chain, spoof_chain, egress_chain = chains
    if chain == spoof_chain:
        return chain, f"anti-spoofing: source {packet.src} / MAC {mac or '?'} is not the NIC's"
    if "--ctstate INVALID" in line:
        return chain, "conntrack state INVALID"
    if "--tcp-flags" in line:
        return chain, "TCP segment of no known connection (not a SYN)"
    if chain in (ingress_chain, egress_chain) and line == f"-A {chain} -j DROP":
        return chain, DEFAULT_DROP
    return chain, "dropped by a default of the firewall"


def _group_chains_of(nic, direction):
    from workers.host.sgnames import group_chains

    pick = 0 if direction == "ingress" else 1
    return [group_chains(gid)[pick] for gid in nic.get("groups", ())]


def describe(rule):
    """A rule as a person reads it: "ingress IPv4 tcp 22 from 10.0.0.0/24"."""
    proto = rule.get("protocol")
    parts = [rule["direction"], "IPv6" if rule.get("family") == "v6" else "IPv4",
             PROTOCOL_NAMES.get(proto, str(proto)) if proto is not None else "any protocol"]
    lo, hi = rule.get("port_min"), rule.get("port_max")
    if proto in (1, 58):
        if lo is not None and lo >= 0:
            parts.append(f"type {lo}" + (f" code {hi}" if hi is not None and hi >= 0 else ""))
    elif lo is not None:
        parts.append(f"port {lo}" if hi in (None, lo) else f"ports {lo}-{hi}")
    side = "from" if rule["direction"] == "ingress" else "to"
    if rule.get("remote_group"):
        parts.append(f"{side} members of group {rule['remote_group']}")
    elif rule.get("remote_set"):
        parts.append(f"{side} members of set {rule['remote_set']}")
    elif rule.get("remote_ip_prefix"):
        parts.append(f"{side} {rule['remote_ip_prefix']}")
    else:
        parts.append(f"{side} anywhere")
    return " ".join(parts)


# --- the compiled plan and the live host as the tracer's tables --------------------------------------


def plan_tables(plan):
    """The tracer's tables from a compiled plan (compile.compile_host)."""
    return {"v4": plan["v4"]["chains"], "v6": plan["v6"]["chains"], "eb": plan["eb"]["chains"],
            "sets": {name: list(spec["members"]) for name, spec in plan.get("ipsets", {}).items()}}


def plan_rules(plan):
    """{rule id: rule data with its "group"} of a plan."""
    return {r["id"]: {**r, "group": gid} for gid, group in plan.get("groups", {}).items() for r in group["rules"]}


def plan_nic(plan, nic_id):
    nic = plan["nics"].get(str(nic_id))
    return {**nic, "id": str(nic_id)} if nic else None


def saved_tables(saved):
    """The tracer's tables from what the host printed (workers.host.fwsave.save_tables): Nimbo's chains of
    each table with their packet counters, and the members of Nimbo's ipsets."""
    from workers.host.firewall import parse_chains

    out = {"counters": {}, "sets": {name: list(m) for name, m in saved.get("sets", {}).items()}, "jumps": {}}
    for family in ("v4", "v6", "eb"):
        counts = {}
        out[family], out["jumps"][family] = parse_chains(saved.get(family, ""), family, counts)
        out["counters"][family] = counts
    return out


def drift_on_path(compiled, live, compiled_result, live_result, canonical=lambda line: line):
    """What differs between the compiled chains and the live ones, for the chains and sets either path went
    through: [{"chain", "missing": [compiled lines not on the host], "extra": [host lines not compiled]}],
    [{"set", "missing", "extra"}]; the verdicts differing too."""
    family = "v6" if ":" in compiled_result["packet"]["src"] else "v4"
    chains, sets = [], []
    for res in (compiled_result, live_result):
        for step in res["steps"]:
            if step.get("chain") and step["chain"] not in chains:
                chains.append(step["chain"])
            rule = step.get("rule", "")
            if "--match-set " in rule:
                name = rule.split("--match-set ", 1)[1].split()[0]
                if name not in sets:
                    sets.append(name)
    out = []
    for chain in chains:
        table = "eb" if chain in (L2_TOP_CHAIN,) or chain.startswith("nimbo-l-") else family
        want = [canonical(line) for line in compiled.get(table, {}).get(chain, [])] if table != "eb" else \
            compiled.get("eb", {}).get(chain, [])
        have = live.get(table, {}).get(chain)
        if have is None and chain not in compiled.get(table, {}):
            continue
        if have is None:
            out.append({"chain": chain, "missing": want, "extra": [], "note": "chain absent on the host"})
            continue
        missing = [line for line in want if line not in have]
        extra = [line for line in have if line not in want]
        if missing or extra or want != have:
            entry = {"chain": chain, "missing": missing, "extra": extra}
            if not missing and not extra:
                entry["note"] = "same rules in another order"
            out.append(entry)
    jumps = live.get("jumps")
    if jumps is not None:
        hooks = [(family, "FORWARD", TOP_CHAIN)]
        if compiled_result["packet"]["direction"] == "egress":  # the link layer is on the path of egress only
            hooks.append(("eb", "PREROUTING", L2_TOP_CHAIN))
        for table, hook, top in hooks:
            if top in compiled.get(table, {}) and not jumps.get(table, True):
                out.insert(0, {"chain": hook, "missing": [f"-A {hook} -j {top}"], "extra": []})
    set_diffs = []
    for name in sets:
        want, have = set(compiled.get("sets", {}).get(name, ())), set(live.get("sets", {}).get(name, ()))
        if want != have or name not in live.get("sets", {}):
            set_diffs.append({"set": name, "missing": sorted(want - have), "extra": sorted(have - want)})
    return {"chains": out, "sets": set_diffs,
            "verdict_differs": compiled_result["verdict"] != live_result["verdict"]}
