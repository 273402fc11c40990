"""Security-group syncs when things happen at once or out of the usual order, on a real sandbox host."""

import pytest

from apps.core.jobs import start_job
from apps.core.models import Job
from apps.secgroups import services
from apps.secgroups.compile import nic_chains
from tests.support.jobs import run_worker
from tests.support.sgscene import sandbox_scene

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.root]


def nimbo_chains(scene):
    return sorted(line.split()[1] for line in scene.lab.hrun("iptables-save").stdout.splitlines()
                  if line.startswith(":nimbo-"))


def test_force_deleting_a_group_with_nics_and_destroying_the_last_filtered_nic_clean_the_host(rq_queue):
    with sandbox_scene() as scene:
        vm = scene.vm("VM", "198.51.100.10", sshd=False)
        other = scene.vm("OTHER", "198.51.100.12", sshd=False)
        peer = scene.vm("PEER", "198.51.100.11", sshd=False)
        group = services.create_security_group(name="g")
        services.attach_l3(group, scene.l3)
        services.add_nics(group, [vm.nic, other.nic])
        run_worker()
        assert not peer.ping(vm) and not peer.ping(other)

        services.delete_security_group(group, force=True)
        run_worker()
        jobs = list(Job.objects.filter(kind="syncSecurityGroups").values_list("state", "error"))
        assert all(state == "succeeded" for state, _ in jobs), jobs
        assert peer.ping(vm) and peer.ping(other), "the NICs left the group: unfiltered again at once"
        assert not set(nic_chains(vm.nic.pk)) & set(nimbo_chains(scene))

        # The last filtered NIC of the host goes: its chains and the dispatch chains go with it.
        group = services.create_security_group(name="h")
        services.attach_l3(group, scene.l3)
        services.add_nics(group, [other.nic])
        run_worker()
        assert not peer.ping(other)
        services.remove_nics(group, [other.nic])
        run_worker()
        jobs = list(Job.objects.filter(kind="syncSecurityGroups").values_list("state", "error"))
        assert all(state == "succeeded" for state, _ in jobs), jobs
        assert peer.ping(other)
        assert [c for c in nimbo_chains(scene) if c not in ("nimbo-FORWARD", "nimbo-in", "nimbo-out")] == []


def test_a_sync_of_one_change_never_fails_on_chains_another_committed_change_has_not_applied_yet(rq_queue):
    """Two NICs join two groups at the same moment, each group's rules naming the other: each change has a
    sync of its own (they raced past the coalescing), and the first to run leans on the chains of the other
    change, not applied yet. It applies the whole host instead of failing, in either order."""
    from apps.secgroups.sync import PENDING_KEY, _redis

    with sandbox_scene() as scene:
        a, b = scene.vm("A", "198.51.100.10", sshd=False), scene.vm("B", "198.51.100.11", sshd=False)
        ga, gb = services.create_security_group(name="ga"), services.create_security_group(name="gb")
        for group, other in ((ga, gb), (gb, ga)):
            services.attach_l3(group, scene.l3)
            services.add_rule(group, protocol=1, remote_group=other)
        run_worker()
        for round_ in range(4):
            joins = [(ga, a.nic), (gb, b.nic)] if round_ % 2 == 0 else [(gb, a.nic), (ga, b.nic)]
            for group, nic in joins:
                services.add_nics(group, [nic])
            rq_queue.empty()  # the coalesced sync these changes queued: each gets its own instead
            _redis().delete(PENDING_KEY.format(scene.host.pk))
            for group, nic in joins if round_ < 2 else reversed(joins):
                start_job("syncSecurityGroups", "apps.secgroups.jobs.sync_host", target=scene.host,
                          params={"host": str(scene.host.pk), "full": False,
                                  "scope": [f"n:{nic.pk}", f"g:{group.pk}", f"m:{group.pk}"]})
            run_worker()
            jobs = list(Job.objects.filter(kind="syncSecurityGroups").order_by("-created")[:2]
                        .values_list("state", "steps"))
            assert [state for state, _ in jobs] == ["succeeded", "succeeded"], jobs
            assert any(step["name"] == "apply the whole host" for _, steps in jobs for step in steps), \
                "the first sync leaned on the other's chains"
            assert a.ping(b) and b.ping(a), "each group lets in ICMP from the other's members"
            for group, nic in joins:
                services.remove_nics(group, [nic])
            run_worker()
        failed = list(Job.objects.filter(kind="syncSecurityGroups", state="failed").values_list("error", flat=True))
        assert failed == []
