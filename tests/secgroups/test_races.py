"""Security-group syncs when things happen at once or out of the usual order, on a real sandbox host."""

import threading

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


def test_nics_joining_groups_at_the_same_moment_never_fail_their_syncs(rq_queue):
    """Two workers apply two hosts' worth of changes side by side, each NIC joining a group whose rules name
    the other's group: every sync succeeds the first time and the firewall ends as the database says."""
    with sandbox_scene() as scene:
        a, b = scene.vm("A", "198.51.100.10", sshd=False), scene.vm("B", "198.51.100.11", sshd=False)
        ga, gb = services.create_security_group(name="ga"), services.create_security_group(name="gb")
        for group, other in ((ga, gb), (gb, ga)):
            services.attach_l3(group, scene.l3)
            services.add_rule(group, protocol=1, remote_group=other)
        for round_ in range(4):
            joins = [(ga, a.nic), (gb, b.nic)] if round_ % 2 == 0 else [(gb, a.nic), (ga, b.nic)]
            for group, nic in joins:
                services.add_nics(group, [nic])
            # One job per change, each with its own scope (as two changes that raced past the coalescing).
            for group, nic in joins:
                start_job("syncSecurityGroups", "apps.secgroups.jobs.sync_host", target=scene.host,
                          params={"host": str(scene.host.pk), "full": False,
                                  "scope": [f"n:{nic.pk}", f"g:{group.pk}", f"m:{group.pk}"]})
            workers = [threading.Thread(target=run_worker) for _ in range(2)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            for group, nic in joins:
                services.remove_nics(group, [nic])
            run_worker()
        failed = list(Job.objects.filter(kind="syncSecurityGroups", state="failed").values_list("error", flat=True))
        assert failed == []
