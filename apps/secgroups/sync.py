"""Keeping hosts' firewalls in step with the database.

- `request_sync(host_ids, nics=..., groups=..., members=...)`: after the caller's transaction
  commits, one sync job per affected host, which compiles and applies only what the change touched
  (compile.Scope: the chains of those NICs and groups, the dispatch chains, the sets), so its cost
  follows the size of the change, not of the host. Naming nothing means the whole host.
- Changes that land while a host's sync is still queued ride on that job: a Redis key per host
  (SET NX) marks "a sync is queued", and a Redis set per host collects what the changes touched
  (added before the key is tested). The job clears the key as it starts, then takes the set, then
  compiles from the database: everything it takes was committed before it reads. Many changes
  within a few milliseconds thus cost one apply per host.
- `deliver(host, op, payload)`: the one place that reaches a host's agent.
- The periodic reconcile (apps.secgroups.jobs.reconcile_all) compiles every host whole, compares it
  with the live chains, repairs drift and records it.
"""

import functools
import logging

from django.conf import settings
from django.db import transaction

log = logging.getLogger("nimbo.secgroups.sync")

PENDING_KEY = "nimbo:secgroups:sync-pending:{}"
RECONCILE_KEY = "nimbo:secgroups:reconcile-scheduled"
RECONCILE_INTERVAL = 60  # seconds between two reconciles of every host


def hosts_of_nics(nics):
    return {nic.vm_instance.host_id for nic in nics if nic.vm_instance.host_id}


def hosts_of_groups(group_ids, *, remote_only=False, include_remote_users=False):
    """Hosts with NICs in the groups and/or hosts whose rules name the groups as their remote
    (their ipsets hold the groups' members)."""
    from .models import SecurityGroupNicRef, SecurityGroupRule

    hosts = set()
    if not remote_only:
        hosts |= set(SecurityGroupNicRef.objects.filter(security_group_id__in=group_ids)
                     .values_list("vm_nic__vm_instance__host_id", flat=True))
    if remote_only or include_remote_users:
        users = SecurityGroupRule.objects.filter(remote_group_id__in=group_ids).values("security_group_id")
        hosts |= set(SecurityGroupNicRef.objects.filter(security_group_id__in=users)
                     .values_list("vm_nic__vm_instance__host_id", flat=True))
    hosts.discard(None)
    return hosts


WHOLE_HOST = "*"
SCOPE_KEY = "nimbo:secgroups:sync-scope:{}"


def scope_items(*, nics=(), groups=(), members=(), added_rules=()):
    """What a change touched, as the strings a sync request carries: "n:<nic>", "g:<group>",
    "m:<group whose members changed>", and for a change that only added rules to a group "a:<group>"
    and "r:<rule>"; nothing named: the whole host ("*")."""
    items = [f"n:{n}" for n in nics] + [f"m:{m}" for m in members]
    if added_rules:
        items += [f"a:{g}" for g in groups] + [f"r:{r}" for r in added_rules]
    else:
        items += [f"g:{g}" for g in groups]
    return sorted({str(i) for i in items}) or [WHOLE_HOST]


def parse_scope(items):
    """compile.Scope from the items of the changes one job serves, or None for the whole host."""
    from .compile import Scope

    items = set(items)
    if WHOLE_HOST in items:
        return None

    def pick(*tags):
        return frozenset(i[2:] for i in items if i[:2] in tags)

    return Scope(nics=pick("n:"), groups=pick("g:", "a:"), members=pick("m:"), added_rules=pick("r:"),
                 only_additions=bool(items) and all(i[:2] in ("a:", "r:") for i in items))


def request_sync(host_ids, *, full=False, nics=(), groups=(), members=(), added_rules=()):
    """Sync these hosts' firewalls once the current transaction commits: the chains of `nics` and
    `groups` (ids), and the sets of `members` (groups whose membership changed) with the rules that
    use them; `added_rules`: the change only added these rules to `groups`. Nothing named: the whole
    host. `full`: the whole host, compared with its live chains rather than with what it last
    applied (e.g. after a host restart)."""
    host_ids = sorted({str(h) for h in host_ids if h})
    if host_ids:
        items = [WHOLE_HOST] if full else scope_items(nics=nics, groups=groups, members=members,
                                                       added_rules=added_rules)
        transaction.on_commit(functools.partial(_enqueue_syncs, host_ids, full=full, items=items))


def _redis():
    import django_rq

    return django_rq.get_connection("default")


def _enqueue_syncs(host_ids, full=False, items=(WHOLE_HOST,)):
    from apps.core.jobs import start_job
    from apps.infra.models import Host

    for host in Host.objects.filter(pk__in=host_ids):
        params = {"host": str(host.pk), "full": full}
        if settings.NIMBO_JOBS_INLINE:
            params["scope"] = list(items)
        elif not full:
            redis = _redis()
            key = SCOPE_KEY.format(host.pk)
            redis.pipeline().sadd(key, *items).expire(key, 3600).execute()  # before the test below
            if not redis.set(PENDING_KEY.format(host.pk), "1", nx=True, ex=300):
                continue  # a sync of this host is already queued: it will take these items too
        start_job("syncSecurityGroups", "apps.secgroups.jobs.sync_host", target=host, params=params)
    if not settings.NIMBO_JOBS_INLINE:
        schedule_reconcile()


def sync_started(host_id):
    """Called by the job as it starts: later changes need a new job. Returns what the changes that
    this job serves touched (scope items), taken from the host's set."""
    redis = _redis()
    redis.delete(PENDING_KEY.format(host_id))
    key = SCOPE_KEY.format(host_id)
    items, _ = redis.pipeline().smembers(key).delete(key).execute()
    return sorted(i.decode() if isinstance(i, bytes) else i for i in items)


def schedule_reconcile(delay=RECONCILE_INTERVAL):
    """Make sure one reconcile of every host is scheduled (the job schedules the next one)."""
    from apps.core.periodic import schedule_once

    schedule_once(RECONCILE_KEY, "apps.secgroups.jobs.reconcile_all_scheduled", delay)


# --- reaching the host agent --------------------------------------------------------------------


def host_namespace(host):
    """The network namespace holding a sandbox host (its bridges and firewall); "" for a real host."""
    return host.netns


def deliver(host, op, payload):
    """Run a firewall operation on the host: "apply" (payload: the plan of the whole host or of part
    of it), "reconcile" (payload: the plan of the whole host) or "read_back" (payload: a NIC id). A
    sandbox host's namespace is on this machine: served in process; a real host through its agent
    (apps.infra.agent.call_host; a part of a plan as "firewall.apply_part")."""
    netns = host_namespace(host)
    if not netns:
        from apps.infra.agent import call_host

        args = {"nic_id": payload} if op == "read_back" else {"plan": payload}
        if op == "apply" and payload.get("scope"):
            op = "apply_part"
        return call_host(host, f"firewall.{op}", args, timeout=120)
    from workers.host import firewall

    if op == "apply":
        return firewall.apply_plan(payload, netns)
    if op == "reconcile":
        return firewall.reconcile(payload, netns)
    if op == "read_back":
        return firewall.read_back(netns, payload)
    raise ValueError(f"unknown firewall operation {op}")


# --- what other operations call -----------------------------------------------------------------


def sync_for_vm(vm, *other_hosts):
    """A VM started, stopped, was destroyed or migrated (pass the old host): sync its NICs on its host(s) and the
    sets of the hosts whose remote-group rules name its groups. Call inside the operation's transaction."""
    from .models import SecurityGroupNicRef

    refs = list(SecurityGroupNicRef.objects.filter(vm_nic__vm_instance=vm)
                .values_list("vm_nic_id", "security_group_id"))
    if not refs:
        return  # its NICs are not filtered anywhere: no host has anything to change
    nic_ids, group_ids = {n for n, _ in refs}, {g for _, g in refs}
    hosts = {vm.host_id, *(getattr(h, "pk", h) for h in other_hosts)}
    hosts |= hosts_of_groups(group_ids, remote_only=True)
    request_sync(hosts, nics=nic_ids, groups=group_ids, members=group_ids)


def sync_for_host(host):
    """A host (re)connected: converge its firewall to the database, checking its live chains."""
    request_sync([host.pk], full=True)


def host_lock(host_id):
    """One host's firewall changes, one at a time across every worker: compile and apply under it."""
    return _redis().lock(f"nimbo:secgroups:host:{host_id}", timeout=300, blocking_timeout=300, sleep=0.01)


# Seconds before the next try of a failed apply: at once, then backing off; the reconcile keeps trying after.
RETRY_DELAYS = (0.5, 2, 5, 15, 60)


def retry_later(host_id, failures):
    """Schedule another sync of a host whose apply failed (its failures stay visible meanwhile)."""
    import datetime

    import django_rq

    if settings.NIMBO_JOBS_INLINE or failures > len(RETRY_DELAYS):
        return False
    delay = RETRY_DELAYS[failures - 1]
    queue = django_rq.get_queue("default")
    if delay < 1:  # the scheduler wakes about once a second: a retry "at once" goes straight to the queue
        queue.enqueue("apps.secgroups.sync.retry_sync", str(host_id))
    else:
        queue.enqueue_in(datetime.timedelta(seconds=delay), "apps.secgroups.sync.retry_sync", str(host_id))
    return True


def retry_sync(host_id):
    """The whole host: what the failed apply left half-done is not known."""
    _redis().delete(PENDING_KEY.format(host_id))
    _enqueue_syncs([host_id], items=[WHOLE_HOST])
