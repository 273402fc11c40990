"""Sync: exactly the affected hosts, coalesced into one apply per host; reconcile records drift."""

import pytest
from django.db import transaction

from apps.core.models import Job
from apps.infra.models import Cluster, Host
from apps.secgroups import services
from apps.secgroups.compile import nic_chains
from apps.secgroups.jobs import reconcile_all
from apps.secgroups.models import HostFirewall
from tests.support.factories import make_l2, make_l3, make_nic, make_vm, make_zone
from tests.support.jobs import run_worker
from tests.support.sgscene import sandbox_scene


def sync_jobs():
    return sorted(Job.objects.filter(kind="syncSecurityGroups").values_list("target_name", flat=True))


@pytest.fixture
def world(db):
    zone = make_zone()
    cluster = Cluster.objects.create(zone=zone, name="C", hypervisor_type="Sandbox")
    l3 = make_l3(l2=make_l2(zone=zone), services=["SecurityGroup"], cidr="10.0.0.0/24")
    hosts = [Host.objects.create(cluster=cluster, name=f"H{i}", management_ip=f"127.0.0.{i + 1}") for i in range(3)]
    nics = []
    for i, host in enumerate(hosts):
        vm = make_vm(f"VM{i}", zone=l3.l2_network.zone, host=host)
        nics.append(make_nic(vm, l3))
    groups = [services.create_security_group(name=n) for n in ("A", "B", "C")]
    for group in groups:
        services.attach_l3(group, l3)
    return hosts, nics, groups


@pytest.mark.django_db(transaction=True)
def test_changes_sync_exactly_the_affected_hosts_and_coalesce(world, rq_queue):
    hosts, nics, (a, b, c) = world
    services.add_nics(a, [nics[0]])
    services.add_nics(b, [nics[1]])
    assert sync_jobs() == ["H0", "H1"]
    assert rq_queue.count == 2

    # Many changes on host H0 while its sync is still queued: no second job.
    added = [services.add_rule(a, protocol=6, port_range_min=port, port_range_max=port) for port in range(1000, 1010)]
    assert sync_jobs() == ["H0", "H1"] and rq_queue.count == 2
    # The queued job takes what every change touched as it starts: the NIC that joined, its group
    # (a rule removal would have made it "g:"), the sets naming it and the ten rules added.
    from apps.secgroups.sync import parse_scope, sync_started

    items = sync_started(hosts[0].pk)
    assert items == sorted([f"n:{nics[0].pk}", f"g:{a.pk}", f"m:{a.pk}", f"a:{a.pk}",
                            *(f"r:{rule.pk}" for rule in added)])
    scope = parse_scope(items)
    assert scope.groups == {str(a.pk)} and len(scope.added_rules) == 10 and not scope.only_additions
    assert sync_started(hosts[0].pk) == [], "taken once"
    services.add_rule(a, protocol=6, port_range_min=2000, port_range_max=2000)
    assert sync_jobs() == ["H0", "H0", "H1"], "the job started: a later change needs a new one"

    # B's rules name A as their remote: a NIC joining A changes the set on H1 (and its own host H2).
    services.add_rule(b, protocol=6, port_range_min=22, port_range_max=22, remote_group=a)
    Job.objects.all().delete()
    rq_queue.empty()
    from apps.secgroups.sync import PENDING_KEY, _redis

    for host in hosts:
        _redis().delete(PENDING_KEY.format(host.pk))
    services.add_nics(a, [nics[2]])
    assert sync_jobs() == ["H1", "H2"]

    # A group in no NIC's use: a rule change syncs no host.
    Job.objects.all().delete()
    services.add_rule(c, protocol=17)
    assert sync_jobs() == []


@pytest.mark.django_db(transaction=True)
def test_changes_in_one_transaction_are_one_job(world, rq_queue):
    hosts, nics, (a, b, c) = world
    with transaction.atomic():
        services.add_nics(a, [nics[0]])
        services.add_rule(a, protocol=6, port_range_min=80, port_range_max=80)
        services.add_rule(a, protocol=6, port_range_min=443, port_range_max=443)
    assert sync_jobs() == ["H0"]


@pytest.mark.root
@pytest.mark.django_db(transaction=True)
def test_sync_job_applies_and_reconcile_records_drift(api, rq_queue):
    with sandbox_scene() as scene:
        vm = scene.vm("VM", "198.51.100.10", sshd=False)
        peer = scene.vm("PEER", "198.51.100.11", sshd=False)
        group = services.create_security_group(name="g")
        services.attach_l3(group, scene.l3)
        services.add_nics(group, [vm.nic])
        services.add_rule(group, protocol=6, port_range_min=22, port_range_max=22)
        run_worker()
        job = Job.objects.get(kind="syncSecurityGroups")
        assert job.state == "succeeded", job.error
        assert not peer.ping(vm)

        # Someone deletes the NIC's ingress chain by hand.
        ingress = nic_chains(vm.nic.pk)[0]
        scene.lab.hrun("iptables", "-w", "-D", "nimbo-in", "-m", "physdev", "--physdev-out", vm.device,
                       "--physdev-is-bridged", "-j", ingress)
        scene.lab.hrun("iptables", "-w", "-F", ingress)
        scene.lab.hrun("iptables", "-w", "-X", ingress)
        assert peer.ping(vm), "without its chain the NIC is wide open"
        report = reconcile_all()
        assert not peer.ping(vm), "the reconcile restored the chain"
        state = HostFirewall.objects.get(host=scene.host)
        repaired = report[str(scene.host.pk)]
        assert repaired >= 2
        assert state.drift.startswith(f"{repaired} rules repaired at ")
        assert state.drift_by_nic[str(vm.nic.pk)].startswith("repaired at ")
        shown = api.get(f"/api/v1/vm-nics/{vm.nic.pk}/firewall/").json()
        assert shown["drift"] == state.drift_by_nic[str(vm.nic.pk)]
        assert reconcile_all()[str(scene.host.pk)] == 0


@pytest.mark.django_db(transaction=True)
def test_a_failed_apply_is_visible_on_the_host(world, api, jobs_inline):
    hosts, nics, (a, b, c) = world  # sandbox hosts whose namespaces do not exist on this machine
    services.add_nics(a, [nics[0]])
    job = Job.objects.get(kind="syncSecurityGroups")
    assert job.state == "failed" and job.error.startswith("Applying the security groups on host H0 failed: ")
    state = api.get(f"/api/v1/host-firewalls/{hosts[0].pk}/").json()
    assert state["host_name"] == "H0" and state["failures"] == 1 and state["last_error"]
    services.add_rule(a, protocol=6, port_range_min=1, port_range_max=2)
    assert api.get(f"/api/v1/host-firewalls/{hosts[0].pk}/").json()["failures"] == 2
    from workers.host import firewall

    firewall.forget(hosts[0].netns)


@pytest.mark.django_db(transaction=True)
def test_vm_lifecycle_and_host_reconnect_hooks(world, rq_queue):
    from apps.secgroups.sync import sync_for_host, sync_for_vm

    hosts, nics, (a, b, c) = world
    services.add_nics(a, [nics[0]])
    services.add_rule(b, protocol=6, port_range_min=22, port_range_max=22, remote_group=a)
    services.add_nics(b, [nics[1]])
    Job.objects.all().delete()
    from apps.secgroups.sync import PENDING_KEY, _redis

    for host in hosts:
        _redis().delete(PENDING_KEY.format(host.pk))
    # VM0 migrates from H0 to H2: both hosts, and H1 whose set holds VM0's address.
    vm = nics[0].vm_instance
    vm.host = hosts[2]
    vm.save()
    sync_for_vm(vm, hosts[0])
    assert sync_jobs() == ["H0", "H1", "H2"]
    Job.objects.all().delete()
    for host in hosts:
        _redis().delete(PENDING_KEY.format(host.pk))
    sync_for_host(hosts[1])
    assert sync_jobs() == ["H1"]


@pytest.mark.django_db
def test_nic_firewall_of_an_unfiltered_or_unplaced_nic(world, api):
    hosts, nics, groups = world
    shown = api.get(f"/api/v1/vm-nics/{nics[0].pk}/firewall/").json()
    assert shown == {"nic": str(nics[0].pk), "host": str(hosts[0].pk), "groups": [], "chains": [],
                     "realised": None, "read_back_error": "", "drift": "", "pending": ""}
    assert api.get("/api/v1/vm-nics/00000000-0000-0000-0000-000000000000/firewall/").status_code == 404


@pytest.mark.root
@pytest.mark.django_db(transaction=True)
def test_each_sync_applies_what_its_change_touched_and_the_reconcile_finds_no_drift(jobs_inline):
    from apps.secgroups.compile import group_chains
    from apps.secgroups.state import host_plan

    def last_sync():
        job = Job.objects.filter(kind="syncSecurityGroups").order_by("-created").first()
        assert job.state == "succeeded", job.error
        return job.result

    with sandbox_scene() as scene:
        vm = scene.vm("VM", "198.51.100.10", sshd=False)
        other = scene.vm("OTHER", "198.51.100.11", sshd=False)
        peer = scene.vm("PEER", "198.51.100.12", sshd=False)
        web, db = services.create_security_group(name="web"), services.create_security_group(name="db")
        for group in (web, db):
            services.attach_l3(group, scene.l3)
        services.add_nics(web, [vm.nic])
        services.add_nics(db, [other.nic])
        assert reconcile_all()[str(scene.host.pk)] == 0

        rule = services.add_rule(web, protocol=1)
        assert last_sync()["chains"] == [group_chains(web.pk)[0]]
        whole = host_plan(scene.host)
        compiled = last_sync()["compiled_chains"]
        assert not last_sync()["whole_host"] and compiled == sum(
            len(whole[f]["chains"]) for f in ("v4", "v6", "eb")) - 2 * (2 + 3) - 1, "nothing of db's NIC and group"
        assert last_sync()["conntrack_deleted"] == 0 and peer.ping(vm) and not peer.ping(other)
        assert reconcile_all()[str(scene.host.pk)] == 0

        services.add_rule(db, protocol=6, port_range_min=22, port_range_max=22, remote_group=web)
        services.delete_rule(rule)
        assert not peer.ping(vm)
        services.remove_nics(web, [vm.nic])  # unfiltered again; db's set of web's members empties
        assert peer.ping(vm)
        assert reconcile_all()[str(scene.host.pk)] == 0
        services.remove_nics(db, [other.nic])
        assert peer.ping(other)
        assert reconcile_all()[str(scene.host.pk)] == 0
        saved = scene.lab.hrun("iptables-save").stdout + scene.lab.hrun("ebtables-save", "-t", "nat").stdout
        assert "nimbo" not in saved


@pytest.mark.django_db(transaction=True)
def test_a_failed_apply_is_retried_at_once_then_later_and_the_nic_says_it_is_pending(world, api, rq_queue):
    from rq.registry import ScheduledJobRegistry

    from apps.secgroups.sync import retry_later

    hosts, nics, (a, _b, _c) = world
    services.add_nics(a, [nics[0]])
    rq_queue.empty()
    HostFirewall.objects.update_or_create(host=hosts[0], defaults={"failures": 1, "last_error": "iptables: boom"})
    queued = rq_queue.count
    assert retry_later(hosts[0].pk, 1) and rq_queue.count == queued + 1, "the first retry is queued at once"
    scheduled = ScheduledJobRegistry(queue=rq_queue)
    before = scheduled.count  # the periodic reconcile is scheduled too
    assert retry_later(hosts[0].pk, 3) and scheduled.count == before + 1, "later ones wait"
    assert not retry_later(hosts[0].pk, 99), "past the last delay the periodic reconcile takes over"
    shown = api.get(f"/api/v1/vm-nics/{nics[0].pk}/firewall/").json()
    assert shown["pending"] == "Not applied yet: 1 failed attempt, retrying; last error: iptables: boom"
