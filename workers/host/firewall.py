"""Security-group firewall of one host: converge the live chains and ipsets to a compiled plan.

Runs on the host (no Django). The plan comes from `apps.secgroups.compile.compile_host` (plain
JSON data). Everything happens inside the host's network namespace (`netns`): the root namespace
of the machine running this code is never touched.

- One `iptables-restore --noflush` (and one `ip6tables-restore`) per apply, holding only the
  chains whose rules changed, the declarations of new chains and the removal of old ones. A plan
  may cover part of the host (plan["scope"]["chains"] names what it covers: the sync of one
  change); every other chain is then left as it is. What was last applied is remembered per
  namespace (a digest per chain, and the lines of long chains, so that a rule added at the end
  of a group's chain or removed from it is one -A / -D line), so an apply reads nothing back;
  iptables' own lock (-w) and a file lock per namespace serialise appliers.
- Remote-group ipsets change by `ipset restore`: a temporary set is filled and swapped in.
- One jump from FORWARD into nimbo-FORWARD; nothing else of the host's firewall is touched.
- The link layer (MAC and ARP anti-spoofing) is ebtables' nat table: one `ebtables-restore
  --noflush` of Nimbo's changed chains there, one jump from PREROUTING into nimbo-PREROUTING.
- After a change, the conntrack entries of the affected NICs that the new rules no longer allow
  are deleted, so an open session does not outlive the rule that let it in.
- `reconcile` reads the live chains back, repairs any difference and says how many rules it fixed.
"""

import fcntl
import functools
import hashlib
import ipaddress
import json
import logging
import os
import re
import shutil
import subprocess
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass

from .errors import HostError
from .ops import operation
from .router import split_counters
from .sgnames import (
    DHCP_PORTS,
    GROUP_EGRESS_PREFIX,
    GROUP_INGRESS_PREFIX,
    ICMP_PROTOCOLS,
    L2_TOP_CHAIN,
    PORT_PROTOCOLS,
    PREFIX,
    TOP_CHAIN,
    UDP,
    l2_chain,
    nic_chains,
)

log = logging.getLogger("nimbo.host.firewall")


@dataclass(frozen=True)
class Table:
    """One table holding Nimbo's chains: how to read it, write it and where Nimbo's one jump is."""

    save: tuple  # prints the table as its restore reads it
    restore: tuple  # takes a payload of changed chains, leaving everything else as it is
    table: str
    hook: str  # the built-in chain with the one jump into `top`
    top: str
    policy: str  # how a user chain is declared in the payload (":name <policy>")
    commit: bool  # whether the payload ends with COMMIT

    @property
    def jump(self):
        return f"-A {self.hook} -j {self.top}"


TABLES = {
    "v4": Table(("iptables-save", "-t", "filter"), ("iptables-restore", "-w", "--noflush"), "filter", "FORWARD",
                TOP_CHAIN, "-", True),
    "v6": Table(("ip6tables-save", "-t", "filter"), ("ip6tables-restore", "-w", "--noflush"), "filter", "FORWARD",
                TOP_CHAIN, "-", True),
    # Checked as frames enter the bridge, before it learns their source MAC (see apps.secgroups.compile).
    "eb": Table(("ebtables-save", "-t", "nat"), ("ebtables-restore", "--noflush"), "nat", "PREROUTING",
                L2_TOP_CHAIN, "RETURN", False),
}
STATE_DIR = os.environ.get("NIMBO_FIREWALL_STATE", "/run/nimbo/firewall")


class FirewallError(HostError):
    pass


def _ns(netns):
    """The command prefix that runs inside the host's namespace.

    An empty `netns` means "this agent's own namespace" and is accepted only inside the agent of
    a real host; anywhere else (a sandbox, the management node, tests) a namespace must be named,
    so the machine's own firewall is never touched."""
    if not netns:
        if os.environ.get("NIMBO_HOST_UUID") and not os.environ.get("NIMBO_SANDBOX_PHYS"):
            return []
        raise FirewallError("The firewall runs inside a host network namespace; none was given.")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", netns):
        raise FirewallError(f"Invalid network namespace name {netns!r}.")
    return ["ip", "netns", "exec", netns]


def _run(netns, *args, input=None, check=True):
    result = subprocess.run([*_ns(netns), *args], input=input, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise FirewallError(f"{' '.join(args[:2])} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


@contextmanager
def _locked(netns):
    os.makedirs(STATE_DIR, exist_ok=True)
    with open(os.path.join(STATE_DIR, f"{netns or 'host'}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _state_path(netns):
    return os.path.join(STATE_DIR, f"{netns or 'host'}.json")


def _load_state(netns):
    try:
        with open(_state_path(netns)) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _save_state(netns, state):
    tmp = _state_path(netns) + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(json.dumps(state, separators=(",", ":")))
    os.replace(tmp, _state_path(netns))


# A chain of at least LONG_CHAIN lines is remembered line by line after it is written, so that rules
# added at its end or removed from it later become a few -A / -D lines instead of a rewrite of the
# whole chain (each rule added costs its parsing, and with nf_tables a rewrite adds every rule again;
# a removal alone does not even make the kernel check the table again). A change that would take
# more than MAX_EDIT_LINES lines rewrites the chain instead.
LONG_CHAIN = 64
MAX_EDIT_LINES = 32


def _lines_dir(netns):
    return os.path.join(STATE_DIR, f"{netns or 'host'}.lines")


def _remembered(netns, family, chain, digest):
    """The lines last written to `chain`, if remembered and still those of `digest`; else None."""
    try:
        with open(os.path.join(_lines_dir(netns), f"{family}.{chain}")) as fh:
            lines = fh.read().split("\n")
    except OSError:
        return None
    return lines if digest and _digest(lines) == digest else None


def _remember(netns, family, chains, forget=()):
    os.makedirs(_lines_dir(netns), exist_ok=True)
    for chain, lines in chains.items():
        path = os.path.join(_lines_dir(netns), f"{family}.{chain}")
        if len(lines) < LONG_CHAIN:
            forget = [*forget, chain]
            continue
        with open(path + ".tmp", "w") as fh:
            fh.write("\n".join(lines))
        os.replace(path + ".tmp", path)
    for chain in forget:
        try:
            os.remove(os.path.join(_lines_dir(netns), f"{family}.{chain}"))
        except OSError:
            pass


def _edits(old, new):
    """The -A / -D lines that turn chain `old` into `new` (every line of a chain is distinct: rules
    carry their id, dispatch lines their device) when rules were only removed, or only added at
    one place: the lines after that place are taken out and added again after the new ones (a new
    NIC's dispatch lines go before the chain's last line). None when that is not the case, or when
    it would take more than MAX_EDIT_LINES lines or move half the chain."""
    if len(new) > len(old):
        same = 0
        while same < len(old) and old[same] == new[same]:
            same += 1
        tail = old[same:]
        if (new[len(new) - len(tail):] != tail or len(new) - len(old) + 2 * len(tail) > MAX_EDIT_LINES
                or 2 * len(tail) >= len(old)):
            return None
        return ["-D" + line[2:] for line in tail] + new[same:]
    if len(new) < len(old) <= len(new) + MAX_EDIT_LINES:
        keep = set(new)
        removed = [line for line in old if line not in keep]
        if len(removed) == len(old) - len(new) and [line for line in old if line in keep] == new:
            return ["-D" + line[2:] for line in removed]
    return None


def _digest(lines):
    return hashlib.sha1("\n".join(lines).encode()).hexdigest()


# --- protocol names: iptables-save prints /etc/protocols names for protocol numbers -----------

_PROTOCOLS = None


def _protocols():
    global _PROTOCOLS
    if _PROTOCOLS is None:
        _PROTOCOLS = {}
        try:
            with open("/etc/protocols") as fh:
                for line in fh:
                    parts = line.split("#")[0].split()
                    if len(parts) >= 2 and parts[1].isdigit():
                        _PROTOCOLS.setdefault(parts[1], parts[0])
        except OSError:
            pass
    return _PROTOCOLS


@functools.lru_cache(maxsize=262144)
def _canonical(line):
    """A planned rule as iptables-save will print it on this host."""
    if " -p " in line:
        return re.sub(r" -p (\d+)\b", lambda m: f" -p {_protocols().get(m.group(1), m.group(1))}", line)
    return line


def _planned_chains(plan, family):
    chains = plan.get(family, {}).get("chains", {})
    if family == "eb":
        return chains
    return {name: [_canonical(line) for line in lines] for name, lines in chains.items()}


# --- reading the live state ---------------------------------------------------------------------


def live_chains(netns, family):
    """{chain: [rules]} of Nimbo's chains of one table and whether its one jump is there, as the
    table's save command prints them."""
    return parse_chains(_run(netns, *TABLES[family].save).stdout, family)


def parse_chains(text, family, counters=None):
    """(Nimbo's chains {chain: [rules]}, whether the table's one jump is there) from its save command's text.

    With a `counters` dict the text was saved with -c (iptables' "[pkts:bytes] " prefix, ebtables'
    " -c pkts bytes" suffix): each rule's (pkts, bytes), or None, goes to counters[chain] in order."""
    table = TABLES[family]
    chains, jump = {}, False
    for raw in text.splitlines():
        line, count = raw, None
        if counters is not None:
            line, count = split_counters(raw.strip())
            if family == "eb" and " -c " in line:
                line, _, tail = line.partition(" -c ")
                nums = tail.split()
                if len(nums) == 2 and all(n.isdigit() for n in nums):
                    count = (int(nums[0]), int(nums[1]))
        if line.startswith(":" + PREFIX):
            chains[line[1:].split()[0]] = []
            if counters is not None:
                counters[line[1:].split()[0]] = []
        elif line.startswith("-A " + PREFIX):
            chains.setdefault(line.split()[1], []).append(line)
            if counters is not None:
                counters.setdefault(line.split()[1], []).append(count)
        elif line == table.jump:
            jump = True
    return chains, jump


def live_sets(netns):
    """{name: sorted members} of Nimbo's ipsets."""
    out = _run(netns, "ipset", "save").stdout
    sets = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1].startswith(PREFIX):
            if parts[0] == "create":
                sets.setdefault(parts[1], [])
            elif parts[0] == "add":
                sets.setdefault(parts[1], []).append(parts[2])
    return {name: sorted(members) for name, members in sets.items()}


def _live_state(netns):
    state = {"sets": {name: _digest(m) for name, m in live_sets(netns).items()}}
    for family in TABLES:
        chains, jump = live_chains(netns, family)
        state[family] = {"chains": {name: _digest(lines) for name, lines in chains.items()}, "jump": jump}
    return state


# --- applying -----------------------------------------------------------------------------------


def apply_plan(plan, netns, *, trust_cache=True):
    """Converge the host in `netns` to `plan` (all of it, or the part of it that plan["scope"] names).
    Returns what changed: {"chains": [changed chain names], "sets": [...], "conntrack_deleted": n}."""
    with _locked(netns):
        current = _load_state(netns) if trust_cache else None
        if current is not None:
            try:
                return _apply(plan, netns, current)
            except FirewallError as exc:
                # Someone changed the host behind our back: start again from what is really there.
                log.warning("apply in %s from the cached state failed (%s); reading the live state", netns, exc)
        return _apply(plan, netns, _live_state(netns), edits=False)


@dataclass
class Changes:
    """What one apply must do to a host, decided from the plan and the host's current state alone.

    Every payload is the exact text its restore command reads; an empty one means "nothing to run"."""

    sets: str  # `ipset restore`: fill the changed sets (a temporary set swapped in), before any rule uses them
    restores: dict  # family -> its table's restore payload: chains declared, rewritten, edited, removed
    written: dict  # family -> {chain: its planned lines} of every chain written (to remember for later edits)
    removed: dict  # family -> [chains removed]
    destroy_sets: list  # sets no rule uses any more: destroyed once the chains that used them are gone
    chains: list  # the chains that change, in the order of the tables
    changed_sets: list
    state: dict  # the host's state once this is done (a digest per chain and set, and the jumps)


def plan_changes(plan, current, remembered=None):
    """What must change to take a host from `current` (digests per chain and set, and whether each
    table's jump is there: what `_live_state` reads or the last apply saved) to `plan`.

    `remembered(family, chain, digest)` gives the lines last written to a long chain if they still
    are those of `digest` (else None): such a chain changes by a few -A / -D lines when it can
    (`_edits`). Without it every changed chain is rewritten whole. Pure: it runs nothing."""
    new_state = {"sets": {}}
    planned_sets = plan.get("ipsets", {})
    set_changes = []
    for name, spec in planned_sets.items():
        digest = _digest(spec["members"])
        new_state["sets"][name] = digest
        if current["sets"].get(name) != digest:
            set_changes.append(name)
    stale_sets = [name for name in current["sets"] if name not in planned_sets]

    # A plan for part of the host (a scope) names the chains it covers: the others stay as they are.
    owned = set(plan["scope"]["chains"]) if plan.get("scope") else None
    changed, restores, written, removed = [], {}, {}, {}
    for family, table in TABLES.items():
        planned = _planned_chains(plan, family)
        cur = current.get(family, {"chains": {}, "jump": False})
        digests = {name: _digest(lines) for name, lines in planned.items()}
        dirty = [name for name in planned if cur["chains"].get(name) != digests[name]]
        if owned is None:
            stale = [name for name in cur["chains"] if name not in planned]
        else:
            stale = [name for name in owned if name in cur["chains"] and name not in planned]
            kept = dict(cur["chains"])
            for name in stale:
                del kept[name]
            digests = {**kept, **digests}
        want_jump = table.top in planned
        edited = {}
        if remembered is not None and family != "eb":
            for name in dirty:
                old = remembered(family, name, cur["chains"].get(name))
                lines = _edits(old, planned[name]) if old is not None else None
                if lines is not None:
                    edited[name] = lines
        rewritten = [name for name in dirty if name not in edited]
        payload = [f"*{table.table}"]
        # Declaring a chain that exists empties it: each dirty chain is rewritten whole (or edited), in
        # one transaction.
        payload += [f":{name} {table.policy}" + (" [0:0]" if table.commit else "") for name in rewritten + stale]
        for name in rewritten:
            payload += planned[name]
        for lines in edited.values():
            payload += lines
        if want_jump and not cur.get("jump"):
            payload.append(f"-I {table.hook} 1 -j {table.top}")
        if not want_jump and cur.get("jump"):
            payload.append(f"-D {table.hook} -j {table.top}")
        payload += [f"-X {name}" for name in stale]
        if len(payload) > 1:
            if table.commit:
                payload.append("COMMIT")
            restores[family] = "\n".join(payload) + "\n"
        else:
            restores[family] = ""
        if family != "eb":
            written[family] = {name: planned[name] for name in dirty}
            removed[family] = stale
        changed += dirty + stale
        new_state[family] = {"chains": digests, "jump": want_jump}
    return Changes(sets=_sets_payload(planned_sets, set_changes), restores=restores, written=written,
                   removed=removed, destroy_sets=stale_sets, chains=changed, changed_sets=set_changes,
                   state=new_state)


def _sets_payload(planned_sets, names):
    lines = []
    for name in names:
        spec = planned_sets[name]
        kind = f"hash:ip family {spec['family']}"
        tmp = f"{name}t"
        lines.append(f"create {name} {kind} -exist")
        lines += [f"create {tmp} {kind} -exist", f"flush {tmp}"]
        lines += [f"add {tmp} {member}" for member in spec["members"]]
        lines += [f"swap {tmp} {name}", f"destroy {tmp}"]
    return "\n".join(lines) + "\n" if lines else ""


def _apply(plan, netns, current, edits=True):
    """Work out what must change (`plan_changes`), then do it in the namespace: sets, each table's one
    restore, the stale sets, the state file and the conntrack clean-up."""
    todo = plan_changes(plan, current, functools.partial(_remembered, netns) if edits else None)
    if todo.sets:
        _run(netns, "ipset", "restore", input=todo.sets)
    for family, table in TABLES.items():
        if todo.restores[family]:
            _run(netns, *table.restore, input=todo.restores[family])
        if family in todo.written:
            _remember(netns, family, todo.written[family], forget=todo.removed[family])
    if todo.destroy_sets:
        _run(netns, "ipset", "restore", input="".join(f"destroy {name}\n" for name in todo.destroy_sets),
             check=False)
    _save_state(netns, todo.state)
    # Only rules added, none of them ending a NIC's open egress: nothing allowed before is refused now.
    widening = bool(plan.get("scope", {}).get("widening"))
    deleted = _clear_conntrack(plan, netns, set(todo.chains), set(todo.changed_sets)) if (
        (todo.chains or todo.changed_sets) and not widening) else 0
    return {"chains": sorted(todo.chains), "sets": sorted(todo.changed_sets + todo.destroy_sets),
            "conntrack_deleted": deleted}


# --- conntrack: what the new rules no longer allow must not stay open ---------------------------


def _nic_rules(plan, nic):
    return [rule for gid in nic.get("groups", ()) for rule in plan.get("groups", {}).get(gid, {}).get("rules", ())]


def _clear_conntrack(plan, netns, chains, sets):
    affected = []
    for nic in plan["nics"].values():
        rules = _nic_rules(plan, nic)
        group_chains = {c for gid in nic.get("groups", ()) for c in plan["groups"].get(gid, {}).get("chains", ())}
        if chains & (set(nic["chains"]) | group_chains) or any(r.get("remote_set") in sets for r in rules):
            affected.append((nic, rules))
    if not affected:
        return 0
    members = {name: {ipaddress.ip_address(m) for m in spec["members"]} for name, spec in plan["ipsets"].items()}
    deleted = 0
    for family, flag in (("v4", "ipv4"), ("v6", "ipv6")):
        ips = {}
        for nic, rules in affected:
            for ip in nic["ips"]:
                if (":" in ip) == (family == "v6"):
                    ips[ipaddress.ip_address(ip.split("/")[0])] = (nic, rules)
        if not ips:
            continue
        out = _run(netns, "conntrack", "-L", "-f", flag, check=False).stdout
        for entry in map(_parse_entry, out.splitlines()):
            if not entry or entry["src"] == entry["dst"]:
                continue
            nic_in, nic_out = ips.get(entry["dst"]), ips.get(entry["src"])
            allowed = (nic_in is None or _allowed(*nic_in, "ingress", entry, members)) and (
                nic_out is None or _allowed(*nic_out, "egress", entry, members))
            if not allowed:
                args = ["-D", "-f", flag, "-p", entry["proto"], "-s", str(entry["src"]), "-d", str(entry["dst"])]
                if entry.get("sport") is not None:
                    args += ["--sport", str(entry["sport"]), "--dport", str(entry["dport"])]
                if _run(netns, "conntrack", *args, check=False).returncode == 0:
                    deleted += 1
    return deleted


def _parse_entry(line):
    parts = line.split()
    if len(parts) < 4:
        return None
    entry = {"proto": parts[0], "protonum": int(parts[1]) if parts[1].isdigit() else None}
    for token in parts:
        if "=" not in token:
            continue
        key, value = token.split("=", 1)
        if key in entry:
            continue  # the first occurrence is the original direction
        if key in ("src", "dst"):
            entry[key] = ipaddress.ip_address(value)
        elif key in ("sport", "dport", "type", "code"):
            entry[key] = int(value)
    return entry if "src" in entry and "dst" in entry else None


def _allowed(nic, rules, direction, entry, members):
    """Whether the NIC's current rules let this connection in (ingress) or out (egress)."""
    proto = entry["protonum"]
    if proto == UDP and entry.get("dport") in DHCP_PORTS:
        return True
    if direction == "egress" and nic["egress_default"]:
        return True
    remote = entry["src"] if direction == "ingress" else entry["dst"]
    family = "v6" if remote.version == 6 else "v4"
    for rule in rules:
        if rule["direction"] != direction or rule["family"] != family:
            continue
        if rule["protocol"] is not None and rule["protocol"] != proto and not (
            rule["protocol"] in ICMP_PROTOCOLS and proto in ICMP_PROTOCOLS):
            continue
        if rule["protocol"] in PORT_PROTOCOLS and rule["port_min"] is not None:
            hi = rule["port_max"] if rule["port_max"] is not None else rule["port_min"]
            if entry.get("dport") is None or not rule["port_min"] <= entry["dport"] <= hi:
                continue
        if rule["protocol"] in ICMP_PROTOCOLS and rule["port_min"] is not None and rule["port_min"] >= 0:
            if entry.get("type") != rule["port_min"]:
                continue
            if rule["port_max"] is not None and rule["port_max"] >= 0 and entry.get("code") != rule["port_max"]:
                continue
        if rule["remote_ip_prefix"] and remote not in ipaddress.ip_network(rule["remote_ip_prefix"], strict=False):
            continue
        if rule["remote_set"] and remote not in members.get(rule["remote_set"], ()):
            continue
        return True
    return False


# --- drift and read-back ------------------------------------------------------------------------


def reconcile(plan, netns):
    """Compare the live chains and sets with the plan, repair them, and report the drift:
    {"repaired": rules fixed, "chains": [chains that differed], "sets": [...], ...}."""
    if plan.get("scope"):
        raise FirewallError("The reconcile compares the whole host: it needs the plan of the whole host.")
    with _locked(netns):
        drift, chains_off = 0, []
        live_state = {"sets": {}}
        for family, table in TABLES.items():
            planned = _planned_chains(plan, family)
            live, jump = live_chains(netns, family)
            for name in set(planned) | set(live):
                want, have = Counter(planned.get(name, [])), Counter(live.get(name, []))
                diff = sum(((want - have) + (have - want)).values())
                if diff or (name in planned) != (name in live):
                    drift += diff
                    chains_off.append(name)
            if (table.top in planned) != jump:
                drift += 1
                chains_off.append(table.hook)
            live_state[family] = {"chains": {n: _digest(lines) for n, lines in live.items()}, "jump": jump}
        sets = live_sets(netns)
        sets_off = []
        for name in set(plan.get("ipsets", {})) | set(sets):
            want = set(plan["ipsets"].get(name, {}).get("members", []))
            have = set(sets.get(name, []))
            if want != have or name not in sets:
                sets_off.append(name)
                drift += len(want ^ have) or 1
        live_state["sets"] = {name: _digest(m) for name, m in sets.items()}
        result = _apply(plan, netns, live_state)
        result.update(repaired=drift, drifted_chains=sorted(set(chains_off)), drifted_sets=sorted(sets_off))
        return result


def read_back(netns, nic_id):
    """The live rules of a NIC's chains and of its groups' chains they jump to, as `iptables -S
    <chain>` prints them: {"v4": [...], "v6": [...]}, and its link-layer chain as ebtables-save
    prints it: {"eb": ["-N <chain> -P RETURN", "-A <chain> ...", ...]}."""
    out = {}
    for family in ("v4", "v6"):
        lines, queue, seen = [], list(nic_chains(nic_id)), set()
        while queue:
            chain = queue.pop(0)
            if chain in seen:
                continue
            seen.add(chain)
            result = _run(netns, "ip6tables" if family == "v6" else "iptables", "-w", "-S", chain, check=False)
            if result.returncode != 0:
                continue
            for line in result.stdout.splitlines():
                lines.append(line)
                target = line.rsplit(" -j ", 1)[-1] if " -j " in line else ""
                if target.startswith((GROUP_INGRESS_PREFIX, GROUP_EGRESS_PREFIX)):
                    queue.append(target)
        out[family] = lines
    chain = l2_chain(nic_id)
    result = _run(netns, *TABLES["eb"].save, check=False)
    lines = []
    for line in result.stdout.splitlines() if result.returncode == 0 else ():
        if line.startswith(f":{chain} "):
            lines.insert(0, f"-N {chain} -P {line.split()[1]}")
        elif line.startswith(f"-A {chain} "):
            lines.append(line)
    out["eb"] = lines
    return out


# --- the host agent's operations -----------------------------------------------------------------


@operation("firewall.apply")
def op_apply(plan, netns=""):
    return apply_plan(plan, netns)


@operation("firewall.apply_part")
def op_apply_part(plan, netns=""):
    """A plan of part of the host (plan["scope"]). Its own name, so that an agent which would take
    it for the whole host (and remove every other chain) refuses it instead."""
    if not plan.get("scope"):
        raise FirewallError("firewall.apply_part takes the plan of part of a host.")
    return apply_plan(plan, netns)


@operation("firewall.reconcile")
def op_reconcile(plan, netns=""):
    return reconcile(plan, netns)


@operation("firewall.read_back")
def op_read_back(nic_id, netns=""):
    return read_back(netns, nic_id)


def forget(netns):
    """Drop what this module remembers of a namespace that is gone (its state and lock files)."""
    shutil.rmtree(_lines_dir(netns), ignore_errors=True)
    for suffix in (".json", ".lock"):
        try:
            os.remove(os.path.join(STATE_DIR, f"{netns or 'host'}{suffix}"))
        except OSError:
            pass


def remove_all(netns):
    """Take every Nimbo chain, set and the jump out of the namespace (host removal, tests)."""
    return apply_plan({"v4": {"chains": {}}, "v6": {"chains": {}}, "eb": {"chains": {}}, "ipsets": {}, "nics": {}},
                      netns, trust_cache=False)
