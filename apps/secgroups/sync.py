"""Keeping hosts' firewalls in step with the database.

- `request_sync(host_ids)`: after the caller's transaction commits, one sync job per affected
  host. Changes that land while a host's sync is still queued ride on that job: a Redis key per
  host (SET NX) marks "a sync is queued"; the job clears it as it starts, then compiles from the
  database, so it sees every change committed before it. Many changes within a few milliseconds
  thus cost one apply per host.
- `deliver(host, op, payload)`: the one place that reaches a host's agent.
- The periodic reconcile (apps.secgroups.jobs.reconcile_all) re-applies every host's plan
  against its live chains, repairs drift and records it.
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


def request_sync(host_ids, *, full=False):
    """Sync these hosts' firewalls once the current transaction commits (`full`: compare with the
    live chains rather than with what the host last applied, e.g. after a host restart)."""
    host_ids = sorted({str(h) for h in host_ids if h})
    if host_ids:
        transaction.on_commit(functools.partial(_enqueue_syncs, host_ids, full=full))


def _redis():
    import django_rq

    return django_rq.get_connection("default")


def _enqueue_syncs(host_ids, full=False):
    from apps.core.jobs import start_job
    from apps.infra.models import Host

    for host in Host.objects.filter(pk__in=host_ids):
        if not settings.NIMBO_JOBS_INLINE and not full:
            if not _redis().set(PENDING_KEY.format(host.pk), "1", nx=True, ex=300):
                continue  # a sync of this host is already queued: it will see this change too
        start_job("syncSecurityGroups", "apps.secgroups.jobs.sync_host", target=host,
                  params={"host": str(host.pk), "full": full})
    if not settings.NIMBO_JOBS_INLINE:
        schedule_reconcile()


def sync_started(host_id):
    """Called by the job as it starts: later changes need a new job."""
    if not settings.NIMBO_JOBS_INLINE:
        _redis().delete(PENDING_KEY.format(host_id))


def schedule_reconcile(delay=RECONCILE_INTERVAL):
    """Make sure one reconcile of every host is scheduled (the job schedules the next one)."""
    import datetime

    import django_rq

    if _redis().set(RECONCILE_KEY, "1", nx=True, ex=delay + 30):
        django_rq.get_queue("default").enqueue_in(datetime.timedelta(seconds=delay),
                                                  "apps.secgroups.jobs.reconcile_all_scheduled")


# --- reaching the host agent --------------------------------------------------------------------


def host_namespace(host):
    """The network namespace holding a sandbox host (its bridges and firewall); "" for a real host."""
    return host.netns


def deliver(host, op, payload):
    """Run a firewall operation on the host: "apply", "reconcile" (payload: the plan) or
    "read_back" (payload: a NIC id). A sandbox host's namespace is on this machine: served in
    process; a real host through its agent (apps.infra.agent.call_host)."""
    netns = host_namespace(host)
    if not netns:
        from apps.infra.agent import call_host

        args = {"nic_id": payload} if op == "read_back" else {"plan": payload}
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
    """A VM started, stopped, was destroyed or migrated (pass the old host): sync its host(s) and the
    hosts whose remote-group sets hold its addresses. Call inside the operation's transaction."""
    from .models import SecurityGroupNicRef

    group_ids = list(SecurityGroupNicRef.objects.filter(vm_nic__vm_instance=vm)
                     .values_list("security_group_id", flat=True))
    if not group_ids:
        return  # its NICs are not filtered anywhere: no host has anything to change
    hosts = {vm.host_id, *(getattr(h, "pk", h) for h in other_hosts)}
    hosts |= hosts_of_groups(group_ids, remote_only=True)
    request_sync(hosts)


def sync_for_host(host):
    """A host (re)connected: converge its firewall to the database, checking its live chains."""
    request_sync([host.pk], full=True)


RETRY_DELAYS = (5, 15, 60)  # seconds before the next try of a failed apply; the reconcile keeps trying after


def retry_later(host_id, failures):
    """Schedule another sync of a host whose apply failed (its failures stay visible meanwhile)."""
    import datetime

    import django_rq

    if settings.NIMBO_JOBS_INLINE or failures > len(RETRY_DELAYS):
        return False
    django_rq.get_queue("default").enqueue_in(datetime.timedelta(seconds=RETRY_DELAYS[failures - 1]),
                                              "apps.secgroups.sync.retry_sync", str(host_id))
    return True


def retry_sync(host_id):
    _redis().delete(PENDING_KEY.format(host_id))
    _enqueue_syncs([host_id])
