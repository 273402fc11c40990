"""Scenario 01 up to step 15 through the REST API, with namespace guests on a sandbox host.

Steps 2-4 and 8-11 build the cloud (a real sandbox host: its own sshd, Ansible, its agent in its
namespace); steps 13 and 15 create INNER-VM and OUTER-VM: the first boots FLAT-L3's virtual
router, each gets its address by DHCP from the range, `outer` resolves `inner.tutorials.zstack.org`
through the router's dnsmasq and logs in to it over SSH. Destroying them leaves nothing behind.
"""

import os
import signal
import subprocess
from contextlib import contextmanager

import pytest

from apps.compute.guest_specs import guest_key_path, guest_spec
from apps.compute.models import VmInstance
from apps.core.models import Job
from apps.vrouter.models import VirtualRouter
from apps.vrouter.routers import reconcile_routers_scheduled, router_spec
from tests.support.api import body
from tests.support.scenario01 import DOMAIN, agent_view, cloud, create_vm, wait
from workers.host import guests, links, router

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.root, pytest.mark.slow]


@contextmanager
def capture_events():
    """The events every open page received while the block ran (a listener in the "events" group)."""
    import asyncio

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from apps.core.notify import EVENTS_GROUP

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(EVENTS_GROUP, channel)
    received = []

    async def drain():
        while True:
            try:
                message = await asyncio.wait_for(layer.receive(channel), timeout=1)
            except TimeoutError:
                return
            received.append(message["event"])

    try:
        yield received
    finally:
        async_to_sync(drain)()
        async_to_sync(layer.group_discard)(EVENTS_GROUP, channel)


def ssh(spec, target, command, via):
    return guests.run_in(spec, "ssh", "-i", str(guest_key_path()), "-o", "StrictHostKeyChecking=no",
                         "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
                         f"root@{target}", command, via=via)


def test_scenario_01_namespace_guests(api, jobs_inline, sandboxes):
    setup = cloud(api, sandboxes)

    # 13. INNER-VM: the first VM boots FLAT-L3's virtual router; 15. OUTER-VM.
    created = {name: create_vm(api, setup, name, hostname)
               for name, hostname in (("INNER-VM", "inner"), ("OUTER-VM", "outer"))}
    vms = {name: VmInstance.objects.select_related("host__cluster").get(pk=vm["uuid"]) for name, vm in created.items()}
    for name, vm in vms.items():
        shown = body(api.get(f"/api/v1/vms/{vm.pk}/"), 200)
        assert (shown["state"], shown["guest_kind"], shown["host"]) == ("Running", "Namespace", str(vm.host.pk)), name
    jobs = list(Job.objects.filter(kind="startVmInstance").order_by("created"))
    assert [j.state for j in jobs] == ["succeeded", "succeeded"], [j.error for j in jobs]
    assert "Boot the virtual router of FLAT-L3 on HOST1" in [s["name"] for s in jobs[0].steps]
    assert "Update the virtual router of FLAT-L3" in [s["name"] for s in jobs[1].steps]
    vr = VirtualRouter.objects.select_related("host__cluster", "l3_network__l2_network").get()
    assert (vr.state, vr.host.name) == ("Running", "HOST1")
    # On a flat network the router takes its own address from the range, when the first VM boots.
    assert vr.address == "198.51.100.231"

    via = agent_view(vms["INNER-VM"].host)
    inner = guest_spec(vms["INNER-VM"], vms["INNER-VM"].host)
    outer = guest_spec(vms["OUTER-VM"], vms["OUTER-VM"].host)
    assert wait(lambda: guests.addresses(inner).get("eth0")) == "198.51.100.230/24"
    assert wait(lambda: guests.addresses(outer).get("eth0")) == "198.51.100.232/24"

    # 16 (without the security group): outer resolves inner by name and logs in to it.
    found = guests.run_in(outer, "getent", "hosts", f"inner.{DOMAIN}", via=via)
    assert found.stdout.split()[:1] == ["198.51.100.230"], found
    there = ssh(outer, f"inner.{DOMAIN}", "hostname; ip -4 -o addr show dev eth0", via)
    assert there.returncode == 0, there.stderr
    assert there.stdout.splitlines()[0] == "inner" and "198.51.100.230/24" in there.stdout

    # The router's dnsmasq killed by hand: the reconcile job rebuilds it and a guest renews its lease.
    spec = router_spec(vr)
    os.kill(links.read_pid(f"{router.STATE_ROOT}/{vr.namespace}/dnsmasq.pid"), signal.SIGKILL)
    wait(lambda: router.router_status(spec)["parts"]["dnsmasq"] is False)
    job = body(api.post("/api/v1/virtual-routers/reconcile/", {}, format="json"), 202)["job"]
    job = Job.objects.get(pk=job["uuid"])
    assert job.state == "succeeded" and job.result["drift"] == {vr.name: ["dnsmasq"]}, (job.error, job.result)
    assert body(api.get(f"/api/v1/virtual-routers/{vr.pk}/"), 200)["last_repair"] == "dnsmasq"
    guests.renew(inner)
    assert wait(lambda: any(lease["ip"] == "198.51.100.230" for lease in router.leases(spec)))

    # Its namespace deleted by hand: the periodic check (no Job, no toast unless it repairs) rebuilds it.
    subprocess.run([*via, "ip", "netns", "delete", vr.namespace], check=True)
    assert not router.router_status(spec)["parts"]["namespace"]
    jobs_before = Job.objects.count()
    with capture_events() as events:
        repaired = reconcile_routers_scheduled()
    assert repaired == {vr.name: ["namespace", "leg", "dnsmasq restarted"]}, repaired
    assert Job.objects.count() == jobs_before
    assert [e["message"] for e in events] == [
        f"Virtual router {vr.name} on HOST1 repaired: namespace, leg, dnsmasq restarted"]
    shown = body(api.get(f"/api/v1/virtual-routers/{vr.pk}/"), 200)
    assert shown["last_repair"] == "namespace, leg, dnsmasq restarted" and shown["last_repaired"]
    guests.renew(outer)
    assert wait(lambda: any(lease["ip"] == "198.51.100.232" for lease in router.leases(spec)))
    # The rebuilt dnsmasq answers once it has bound its leg: a name asked at that very moment may go unanswered.
    found = wait(lambda: guests.run_in(outer, "getent", "hosts", f"inner.{DOMAIN}", via=via).stdout.split()[:1],
                 timeout=5)
    assert found == ["198.51.100.230"], found
    with capture_events() as events:
        assert reconcile_routers_scheduled() == {}  # nothing to repair: nothing said
    assert events == []

    # Stop and start: the guest goes away entirely and comes back with the same address.
    body(api.post(f"/api/v1/vms/{vms['INNER-VM'].pk}/stop/", {"timeout": 1}, format="json"), 202)
    assert body(api.get(f"/api/v1/vms/{vms['INNER-VM'].pk}/"), 200)["state"] == "Stopped"
    assert not links.netns_exists(inner["name"])
    body(api.post(f"/api/v1/vms/{vms['INNER-VM'].pk}/start/", {}, format="json"), 202)
    assert body(api.get(f"/api/v1/vms/{vms['INNER-VM'].pk}/"), 200)["state"] == "Running"
    assert wait(lambda: guests.addresses(inner).get("eth0")) == "198.51.100.230/24"

    # Destroy: no namespace, veth, process or dnsmasq entry is left; the addresses return to the range.
    for vm in vms.values():
        body(api.post(f"/api/v1/vms/{vm.pk}/destroy/", {}, format="json"), 202)
    assert not VmInstance.objects.exists()
    for spec_ in (inner, outer):
        assert not links.netns_exists(spec_["name"])
        assert not links.link_exists(spec_["nics"][0]["dev"], netns=spec_["host_netns"])
        assert not os.path.exists(f"{guests.STATE_ROOT}/{spec_['name']}")
    with open(f"{router.STATE_ROOT}/{vr.namespace}/dhcp-hosts") as f:
        assert f.read() == ""
    used = body(api.get(f"/api/v1/l3-networks/{setup['l3']}/used-ips/"), 200)
    assert [u["ip"] for u in used["results"]] == ["198.51.100.231"]  # only the router's own


def test_a_vm_that_fits_no_host_fails_clearly_and_releases_its_address(api, jobs_inline, sandboxes):
    setup = cloud(api, sandboxes)
    big = body(api.post("/api/v1/instance-offerings/", {"name": "HUGE", "cpu_num": 1, "memory_size": "64T"},
                        format="json"), 201)["uuid"]
    from apps.projects.access import default_project
    from apps.projects.quotas import set_quota

    set_quota(default_project(), "vm.memorySize", 128 * 1024**4)  # the project may; no host can
    vm = create_vm(api, {**setup, "offering": big}, "HUGE-VM", "huge")
    job = Job.objects.get(kind="startVmInstance")
    assert job.state == "failed"
    assert job.error.startswith("No host has 64T of memory and 1 CPU(s) free for this VM (the most free memory")
    shown = body(api.get(f"/api/v1/vms/{vm['uuid']}/"), 200)
    assert (shown["state"], shown["nics"], shown["host"]) == ("Error", [], None)
    # The VM's address is back in the range; the router's, reserved with the first VM, stays with the router.
    used = body(api.get(f"/api/v1/l3-networks/{setup['l3']}/used-ips/"), 200)["results"]
    assert [(u["ip"], u["owner_type"]) for u in used] == [("198.51.100.231", "VirtualRouter")]


def test_scenario_01_with_the_security_group_on_vms_booted_through_the_api(api, jobs_inline, sandboxes):
    """Steps 12-19 on VMs created, stopped and started through the API: the firewall follows the VM."""
    setup = cloud(api, sandboxes)
    group = body(api.post("/api/v1/security-groups/", {"name": "SECURITY-GROUP-1"}, format="json"), 201)
    base = f"/api/v1/security-groups/{group['uuid']}"
    rule = {"type": "Ingress", "protocol": "TCP", "start_port": 22, "end_port": 22, "allowed_cidr": ""}
    ssh_rule = body(api.post(f"{base}/rules/", rule, format="json"), 201)
    body(api.post(f"{base}/l3-networks/", {"l3_network": setup["l3"]}, format="json"), 200)
    vms = {name: VmInstance.objects.select_related("host__cluster").get(pk=create_vm(api, setup, name, host)["uuid"])
           for name, host in (("INNER-VM", "inner"), ("OUTER-VM", "outer"))}
    nic = vms["INNER-VM"].nics.get()
    body(api.post(f"{base}/nics/", {"nics": [str(nic.pk)]}, format="json"), 200)
    via = agent_view(vms["INNER-VM"].host)
    inner = guest_spec(vms["INNER-VM"], vms["INNER-VM"].host)
    outer = guest_spec(vms["OUTER-VM"], vms["OUTER-VM"].host)
    assert wait(lambda: guests.addresses(inner).get("eth0")) == "198.51.100.230/24"
    assert wait(lambda: guests.addresses(outer).get("eth0")) == "198.51.100.232/24"

    def ping(src, address):
        return guests.run_in(src, "ping", "-c", "1", "-W", "1", address, via=via).returncode == 0

    # 16. Ping fails, SSH lands on INNER-VM.
    assert not ping(outer, "198.51.100.230")
    landed = ssh(outer, "198.51.100.230", "hostname", via)
    assert landed.returncode == 0 and landed.stdout.strip() == "inner", landed.stderr
    # A stop and a start move nothing: the VM comes back filtered by the same group.
    body(api.post(f"/api/v1/vms/{vms['INNER-VM'].pk}/stop/", {"timeout": 1}, format="json"), 202)
    body(api.post(f"/api/v1/vms/{vms['INNER-VM'].pk}/start/", {}, format="json"), 202)
    inner = guest_spec(VmInstance.objects.select_related("host__cluster").get(pk=vms["INNER-VM"].pk),
                       vms["INNER-VM"].host)
    assert wait(lambda: guests.addresses(inner).get("eth0")) == "198.51.100.230/24"
    assert not ping(outer, "198.51.100.230")
    assert wait(lambda: ssh(outer, "198.51.100.230", "true", via).returncode == 0, timeout=15)
    # 17-18. The rule is deleted: SSH fails.
    assert api.delete(f"/api/v1/security-group-rules/{ssh_rule['uuid']}/").status_code == 204
    assert ssh(outer, "198.51.100.230", "true", via).returncode != 0
    # 19. Back again; then the NIC leaves the group and everything is allowed.
    body(api.post(f"{base}/rules/", rule, format="json"), 201)
    assert ssh(outer, "198.51.100.230", "true", via).returncode == 0
    body(api.post(f"{base}/nics/remove/", {"nics": [str(nic.pk)]}, format="json"), 200)
    assert ping(outer, "198.51.100.230")
    assert ping(inner, "198.51.100.232"), "OUTER-VM, in no group, is never filtered"
