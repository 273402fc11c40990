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
    for port in range(1000, 1010):
        services.add_rule(a, protocol=6, port_range_min=port, port_range_max=port)
    assert sync_jobs() == ["H0", "H1"] and rq_queue.count == 2

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
                     "realised": None, "read_back_error": "", "drift": ""}
    assert api.get("/api/v1/vm-nics/00000000-0000-0000-0000-000000000000/firewall/").status_code == 404
