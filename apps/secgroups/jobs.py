"""Worker jobs: sync one host's firewall, reconcile every host's."""

import logging

from django.utils import timezone

from apps.core.exceptions import JobFailed

from .models import HostFirewall
from .state import host_plan
from .sync import deliver, host_lock, parse_scope, retry_later, sync_started

log = logging.getLogger("nimbo.secgroups.jobs")


def sync_host(ctx, host, full=False, scope=None):
    """Compile the host's plan from the database and converge the host to it: the part that the
    changes touched (`scope`: sync.scope_items; when not given, taken from what the queued changes
    recorded), or `full`: the whole host, against its live chains, recording any drift."""
    from apps.infra.models import Host

    if not full and scope is None:
        scope = sync_started(host)
    host = Host.objects.select_related("cluster").get(pk=host)
    # Compiled and applied under the host's lock: plans reach the host in the order they were compiled,
    # each from what was committed before it, so an apply never removes or misses a chain that a plan
    # compiled later (another NIC joining a group at the same moment) has already written.
    with host_lock(host.pk):
        with ctx.step("compile", progress=20):
            plan = host_plan(host) if full else host_plan(host, parse_scope(scope))
        try:
            with ctx.step("apply", progress=100):
                result = _apply(host, "reconcile" if full else "apply", plan, whole=full or "scope" not in plan)
        except _PartFailed:
            # A part of the host can lean on chains that another change, committed but not applied yet, is
            # to create (a NIC whose new group's chains are not on the host yet): apply the whole host.
            with ctx.step("apply the whole host", progress=100):
                plan = host_plan(host)
                result = _apply(host, "apply", plan)
    # How much was compiled: the chains of what the changes touched, or of the whole host.
    result = {**result, "compiled_chains": sum(len(plan[family]["chains"]) for family in ("v4", "v6", "eb")),
              "whole_host": "scope" not in plan}
    ctx.set_result(**result)
    return result


class _PartFailed(JobFailed):
    """Applying a part of a host's plan failed; the whole host is applied instead."""


def _apply(host, op, plan, whole=True):
    state, _ = HostFirewall.objects.get_or_create(host=host)
    try:
        result = deliver(host, op, plan)
    except Exception as exc:
        if not whole:
            log.info("host %s: a part of its plan failed (%s); applying the whole host", host, exc)
            raise _PartFailed(str(exc)) from exc
        state.failures += 1
        state.last_error = str(exc)[:2000]
        state.save(update_fields=["failures", "last_error"])
        if op == "apply":
            retry_later(host.pk, state.failures)
        raise JobFailed(f"Applying the security groups on host {host} failed: {exc}") from exc
    state.last_applied = timezone.now()
    state.last_result = result
    state.last_error, state.failures = "", 0
    if op == "reconcile":
        state.last_reconciled = state.last_applied
        if result.get("repaired"):
            stamp = timezone.localtime(state.last_applied).strftime("%H:%M")
            state.drift = f"{result['repaired']} rule{'s' if result['repaired'] != 1 else ''} repaired at {stamp}"
            nic_of_chain = {c: nic_id for nic_id, nic in plan["nics"].items()
                            for c in [*nic["chains"], nic.get("l2_chain")] if c}
            for chain in result.get("drifted_chains", []):
                if chain in nic_of_chain:
                    state.drift_by_nic[nic_of_chain[chain]] = f"repaired at {stamp}"
    state.save()
    return result


def reconcile_host(host):
    """Re-apply a host's plan against its live chains; returns the reconcile result."""
    with host_lock(host.pk):
        return _apply(host, "reconcile", host_plan(host))


def reconcile_all(ctx=None):
    """Reconcile every host that has (or had) security-group NICs; a failure on one host does not stop the rest."""
    from apps.infra.models import Host

    hosts = Host.objects.select_related("cluster").filter(vm_instances__nics__security_group_refs__isnull=False)
    hosts = set(hosts) | {f.host for f in HostFirewall.objects.select_related("host__cluster")}
    report = {}
    for host in sorted(hosts, key=lambda h: h.name):
        try:
            report[str(host.pk)] = reconcile_host(host).get("repaired", 0)
        except JobFailed as exc:
            log.warning("%s", exc)
            report[str(host.pk)] = str(exc)
    if ctx is not None:
        ctx.set_result(hosts=report)
    return report


def reconcile_all_scheduled():
    """The periodic entry point (RQ scheduler): reconcile, then schedule the next round."""
    from apps.core.periodic import next_round_after

    from .sync import RECONCILE_KEY, schedule_reconcile

    with next_round_after(RECONCILE_KEY, schedule_reconcile):
        reconcile_all()
