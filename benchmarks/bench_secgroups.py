"""Security groups on one host: compile, full apply, one rule change, one VM added (vs Neutron's figures).

A change is compiled and applied as the sync job does it: only the chains of what it touched
(compile.Scope), and a rule added to or removed from a long chain as one -A / -D line, so its cost
follows the size of the change. What is left grows with the host: nf_tables checks every rule
reachable from FORWARD whenever a rule is added to the table (about 60 ms for the 95,000 rules of
the last shape, of which the rule-id comments take about a third); removing rules does not trigger
it. The last part runs the same worst case through the database and the sync job (inline).
"""

import functools
import secrets
import statistics
import subprocess
import time
import uuid

# Neutron's published iptables firewall driver figures for the same shapes (seconds).
NEUTRON = {"22": {"full apply": 1.87}, "422": {"full apply": 12.77, "one VM added": 33.09}}
REPEAT = 5  # rule changes and VMs added per shape; their medians are printed


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
               (f"10.200.{index // 250}.{index % 250 + 1}",), tuple(groups), order=f"{index:06d}")


def _timed(func):
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def _shape(label, vms, rules_per_vm, shared):
    from apps.secgroups.compile import HostState, Rule, Scope, compile_host
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
        # The sets the host's rules use, as the sync job reads them from the database (one query).
        remotes = {(remote, "v4")}
        state = HostState(nics=nics, rules=rules, members=members, remotes=remotes)
        compile_s, plan = _timed(lambda: compile_host(state))
        total = sum(len(c) for fam in ("v4", "v6") for c in plan[fam]["chains"].values())
        apply_s, _ = _timed(lambda: firewall.apply_plan(plan, netns))

        # One rule added to the group of the first VM, then removed again (the connections it let in
        # are looked for and cut as well): the sync job compiles and applies what the change touched.
        # Each a few times, the median kept: one sample right after a big apply says more about the
        # kernel still freeing the old rules than about the change.
        def change(scope):
            return firewall.apply_plan(compile_host(state, scope), netns)

        rule_times, removed_times = [], []
        for index in range(REPEAT):
            added = Rule(f"new{index}", "ingress", "IPv4", 6, 22, 22)
            rules[groups[0]] = [*rules[groups[0]], added]
            scope = Scope(groups=frozenset({groups[0]}), added_rules=frozenset({added.id}), only_additions=True)
            elapsed, result = _timed(functools.partial(change, scope))
            rule_times.append(elapsed)
            rule_chains = len(result["chains"])
            rules[groups[0]] = rules[groups[0]][:-1]
            scope = Scope(groups=frozenset({groups[0]}))
            removed_times.append(_timed(functools.partial(change, scope))[0])
        rule_s, removed_s = statistics.median(rule_times), statistics.median(removed_times)
        # One VM added (with its own group when groups are per VM), and removed again.
        gid = "shared" if shared else "gnew"
        if not shared:
            rules[gid] = _rules(gid, rules_per_vm, remote)
        vm_times = []
        for index in range(REPEAT):
            new = _nic(vms + index, [gid])
            scope = Scope(nics=frozenset({new.id}), groups=frozenset({gid}))
            state.nics = [*nics, new]
            elapsed, result = _timed(functools.partial(change, scope))
            vm_times.append(elapsed)
            vm_chains = len(result["chains"])
            state.nics = list(nics)
            change(scope)
        vm_s = statistics.median(vm_times)
        # Membership change of a remote group: the set, and the open connections of the NICs naming it.
        state.members = {remote: members[remote][1:]}
        scope = Scope(members=frozenset({remote}))
        member_s, result_m = _timed(lambda: firewall.apply_plan(compile_host(state, scope), netns))
        # The periodic reconcile: the whole host compiled and compared with its live chains.
        reconcile_s, result_r = _timed(lambda: firewall.reconcile(compile_host(state), netns))
        assert result_r["repaired"] == 0, result_r
        neutron = NEUTRON.get(str(rules_per_vm), {})

        def vs(name, value):
            ref = neutron.get(name)
            return f"{value:7.3f} s" + (f"   (Neutron: {ref:.2f} s, {ref / value:,.0f}x)" if ref else "")

        print(f"   {label}: {vms} VMs x {rules_per_vm} rules, {total:,} iptables rules on the host")
        print(f"     compile (plain data -> plan)      {compile_s:7.3f} s")
        print(f"     full apply (startup)              {vs('full apply', apply_s)}")
        print(f"     one rule change -> enforced       {rule_s:7.3f} s   ({rule_chains} chains changed)")
        print(f"     one rule removed -> enforced      {removed_s:7.3f} s   (and its connections cut)")
        print(f"     one VM added                      {vs('one VM added', vm_s)}   ({vm_chains} chains written)")
        print(f"     remote-group member leaves        {member_s:7.3f} s   (sets {result_m['sets']}, "
              f"{len(result_m['chains'])} chains)")
        print(f"     reconcile (whole host vs live)    {reconcile_s:7.3f} s   (no drift)")
    finally:
        firewall.remove_all(netns)
        subprocess.run(["ip", "netns", "del", netns], check=False)
        firewall.forget(netns)


def _through_the_sync_job(vms, rules_per_vm):
    """The same worst case as the sync job meets it: the change is written through the service, the
    job reads what it touched from the database, compiles and applies it (jobs run inline)."""
    from django.conf import settings
    from django.db import connection

    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    inline, settings.NIMBO_JOBS_INLINE = settings.NIMBO_JOBS_INLINE, True
    netns = None
    try:
        from apps.core.models import Job
        from apps.infra.models import Cluster, Host
        from apps.secgroups import services
        from apps.secgroups.jobs import reconcile_host
        from apps.secgroups.models import SecurityGroup, SecurityGroupNicRef, SecurityGroupRule
        from tests.support.factories import make_l2, make_l3, make_nic, make_vm, make_zone

        zone = make_zone()
        cluster = Cluster.objects.create(zone=zone, name="BENCH", hypervisor_type="Sandbox")
        host = Host.objects.create(cluster=cluster, name="BENCH-HOST", management_ip="198.51.100.99",
                                   status="Connected")
        netns = host.netns
        subprocess.run(["ip", "netns", "add", netns], check=True)
        l3 = make_l3(l2=make_l2(zone=zone, clusters=[cluster]), services=["SecurityGroup"], cidr="10.200.0.0/16")
        remote = SecurityGroup.objects.create(name="members")

        def group_with_rules(name):
            group = SecurityGroup.objects.create(name=name)
            services.attach_l3(group, l3)
            rows = [SecurityGroupRule(security_group=group, direction=r.direction, ethertype=r.ethertype,
                                      protocol=r.protocol, port_range_min=r.port_min, port_range_max=r.port_max,
                                      remote_ip_prefix=r.remote_ip_prefix or "",
                                      remote_group=remote if r.remote_group_id else None)
                    for r in _rules(name, rules_per_vm, "remote")]
            SecurityGroupRule.objects.bulk_create(rows)
            return group

        groups, nics = [], []
        for i in range(vms):
            groups.append(group_with_rules(f"g{i}"))
            nics.append(make_nic(make_vm(f"VM{i}", zone=zone, host=host, cluster=cluster), l3))
        SecurityGroupNicRef.objects.bulk_create(
            [SecurityGroupNicRef(security_group=g, vm_nic=n) for g, n in zip(groups, nics, strict=True)]
            + [SecurityGroupNicRef(security_group=remote, vm_nic=n) for n in nics[:50]])
        startup_s, _ = _timed(lambda: reconcile_host(host))

        def job_time():
            job = Job.objects.filter(kind="syncSecurityGroups").order_by("-created").first()
            assert job.state == "succeeded", job.error
            return (job.finished - job.started).total_seconds()

        add_s, rule = _timed(lambda: services.add_rule(groups[0], direction="ingress", ethertype="IPv4",
                                                        protocol=6, port_range_min=22, port_range_max=22))
        add_job = job_time()
        remove_s, _ = _timed(lambda: services.delete_rule(rule))
        remove_job = job_time()
        group = group_with_rules("gnew")
        nic = make_nic(make_vm("VMNEW", zone=zone, host=host, cluster=cluster), l3)
        join_s, _ = _timed(lambda: services.add_nics(group, [nic]))
        join_job = job_time()
        reconcile_s, result = _timed(lambda: reconcile_host(host))
        assert result["repaired"] == 0, result
        print(f"   through the sync job (database -> enforced), {vms} VMs x {rules_per_vm} rules, a group per VM:")
        print(f"     whole host from the database      {startup_s:7.3f} s")
        print(f"     one rule added                    {add_s:7.3f} s   (the job: {add_job:.3f} s)")
        print(f"     one rule removed                  {remove_s:7.3f} s   (the job: {remove_job:.3f} s)")
        print(f"     one VM's NIC joins its group      {join_s:7.3f} s   (the job: {join_job:.3f} s)")
        print(f"     reconcile (whole host vs live)    {reconcile_s:7.3f} s")
    finally:
        from workers.host import firewall

        if netns:
            firewall.remove_all(netns)
            subprocess.run(["ip", "netns", "del", netns], check=False)
            firewall.forget(netns)
        settings.NIMBO_JOBS_INLINE = inline
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run():
    _shape("one group shared by every VM", 200, 22, shared=True)
    _shape("one group shared by every VM", 200, 422, shared=True)
    _shape("a group of its own per VM (no sharing: every rule realised per VM)", 200, 422, shared=False)
    _through_the_sync_job(200, 422)
