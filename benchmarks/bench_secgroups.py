"""Security groups on one host: compile, full apply, one rule change, one VM added (vs Neutron's figures)."""

import secrets
import subprocess
import time
import uuid

# Neutron's published iptables firewall driver figures for the same shapes (seconds).
NEUTRON = {"22": {"full apply": 1.87}, "422": {"full apply": 12.77, "one VM added": 33.09}}


def _rules(gid, count, remote):
    from apps.secgroups.compile import Rule

    rules = [Rule(f"{gid}-e4", "egress", "IPv4"), Rule(f"{gid}-e6", "egress", "IPv6")]
    rules.append(Rule(f"{gid}-rg", "ingress", "IPv4", 6, 5432, 5432, remote_group_id=remote))
    for i in range(count - len(rules)):
        rules.append(Rule(f"{gid}-{i}", "ingress", "IPv4", 6 if i % 2 else 17, 1000 + i, 1000 + i,
                          remote_ip_prefix=f"10.{(i // 250) % 250}.{i % 250}.0/24"))
    return rules


def _nic(index, groups):
    from apps.secgroups.compile import Nic

    return Nic(str(uuid.uuid4()), f"vnic{index:010x}", f"fa:00:00:00:{index // 256:02x}:{index % 256:02x}",
               (f"10.200.{index // 250}.{index % 250 + 1}",), tuple(groups))


def _timed(func):
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def _shape(label, vms, rules_per_vm, shared):
    from apps.secgroups.compile import HostState, compile_host
    from workers.host import firewall

    netns = f"nimbo-bench-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        remote = "members"
        groups = ["shared"] if shared else [f"g{i}" for i in range(vms)]
        rules = {gid: _rules(gid, rules_per_vm, remote) for gid in groups}
        rules[remote] = []
        nics = [_nic(i, [groups[0] if shared else groups[i]]) for i in range(vms)]
        members = {remote: [n.ips[0] for n in nics[:50]]}
        state = HostState(nics=nics, rules=rules, members=members)
        compile_s, plan = _timed(lambda: compile_host(state))
        total = sum(len(c) for fam in ("v4", "v6") for c in plan[fam]["chains"].values())
        apply_s, _ = _timed(lambda: firewall.apply_plan(plan, netns))
        # One rule added to the group of the first VM: compile + apply = enforced.
        from apps.secgroups.compile import Rule

        rules[groups[0]] = [*rules[groups[0]], Rule("new", "ingress", "IPv4", 6, 22, 22)]
        rule_s, result = _timed(lambda: firewall.apply_plan(compile_host(state), netns))
        rule_chains = len(result["chains"])
        # One VM added (with its own group when groups are per VM).
        gid = "shared" if shared else "gnew"
        if not shared:
            rules[gid] = _rules(gid, rules_per_vm, remote)
        state.nics = [*nics, _nic(vms, [gid])]
        vm_s, result = _timed(lambda: firewall.apply_plan(compile_host(state), netns))
        # Membership change of a remote group: the set only.
        state.members = {remote: members[remote][1:]}
        member_s, result_m = _timed(lambda: firewall.apply_plan(compile_host(state), netns))
        neutron = NEUTRON.get(str(rules_per_vm), {})

        def vs(name, value):
            ref = neutron.get(name)
            return f"{value:7.3f} s" + (f"   (Neutron: {ref:.2f} s, {ref / value:,.0f}x)" if ref else "")

        print(f"   {label}: {vms} VMs x {rules_per_vm} rules, {total:,} iptables rules on the host")
        print(f"     compile (plain data -> plan)      {compile_s:7.3f} s")
        print(f"     full apply (startup)              {vs('full apply', apply_s)}")
        print(f"     one rule change -> enforced       {rule_s:7.3f} s   ({rule_chains} chains rewritten)")
        print(f"     one VM added                      {vs('one VM added', vm_s)}   "
              f"({len(result['chains'])} chains written)")
        print(f"     remote-group member leaves        {member_s:7.3f} s   (sets {result_m['sets']}, "
              f"{len(result_m['chains'])} chains)")
    finally:
        firewall.remove_all(netns)
        subprocess.run(["ip", "netns", "del", netns], check=False)
        firewall.forget(netns)


def run():
    _shape("one group shared by every VM", 200, 22, shared=True)
    _shape("one group shared by every VM", 200, 422, shared=True)
    _shape("a group of its own per VM (no sharing: every rule realised per VM)", 200, 422, shared=False)
