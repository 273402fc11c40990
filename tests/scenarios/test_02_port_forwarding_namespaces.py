"""Scenario 02 end to end through the REST API with namespace guests on a sandbox host, from a client on the
public network: port forwarding moved between VMs (an open session stops), a second VIP, UDP, an allowed
CIDR, SNAT, an EIP behind a security group, hairpin, and a teardown to an empty system that leaves no NAT
entry, address or namespace behind."""

import subprocess

import pytest

from apps.compute.guest_specs import guest_key_path, guest_spec
from apps.compute.models import VmInstance
from apps.core.models import Job
from apps.infra.models import Host
from apps.vrouter.models import VirtualRouter
from apps.vrouter.routers import reconcile_routers_scheduled, router_spec
from tests.support.api import body, error
from tests.support.natlab import SERVER
from tests.support.sandbox import free_ip
from tests.support.scenario01 import agent_view, create_vm, wait
from tests.support.scenario02 import SSH_OPTIONS, Client, cloud02, move_rule, nic_of as _nic
from workers.host import guests, router

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.root, pytest.mark.slow]


def _guest_server(vm, proto, port):
    """A server inside a namespace guest that answers "<host name> <peer>"."""
    import sys

    vm = VmInstance.objects.select_related("host__cluster").get(pk=vm)
    spec = guest_spec(vm, vm.host)
    cmd = [*agent_view(vm.host), *guests.exec_prefix(guests.NamespaceGuest.from_dict(spec)), sys.executable, "-c",
           SERVER, vm.hostname, proto, str(port)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_scenario_02_namespace_guests(api, jobs_inline, sandboxes):
    setup = cloud02(api, sandboxes, vlan=100)
    client, outsider = Client("pub", "198.51.100.250/24"), Client("out", "198.51.100.251/24")
    servers = []
    try:
        _scenario(api, setup, client, outsider, servers)
    finally:
        for proc in servers:
            proc.kill()
            proc.wait()
        client.close()
        outsider.close()


def _scenario(api, setup, client, outsider, servers):
    # 6. VM1 boots the router: the gateway on its private leg, an address of the public range on its public leg.
    vm1 = create_vm(api, setup, "VM1", "vm1")["uuid"]
    vr = VirtualRouter.objects.select_related("host__cluster", "l3_network__l2_network", "public_l3__l2_network").get()
    shown = body(api.get(f"/api/v1/virtual-routers/{vr.pk}/"), 200)
    assert (shown["state"], shown["address"], shown["public_l3"]) == ("Running", "10.0.0.1", setup["public_l3"])
    assert shown["services"] == ["DHCP", "DNS", "Eip", "PortForwarding", "SNAT"]
    public_ip = shown["public_address"]
    used = body(api.get(f"/api/v1/l3-networks/{setup['public_l3']}/used-ips/"), 200)["results"]
    assert [u["ip"] for u in used] == [public_ip]

    # 7. PORT-FORWARDING1 on a new VIP: TCP 22 -> 22 of VM1. Its job shows the router being updated.
    vip1 = body(api.post("/api/v1/vips/", {"name": "VIP1", "l3_network": setup["public_l3"]}, format="json"), 201)
    pf1 = body(api.post("/api/v1/port-forwarding-rules/", {
        "name": "PORT-FORWARDING1", "vip": vip1["uuid"], "protocol": "TCP", "vip_port_start": 22,
        "vip_port_end": 22, "guest_port_start": 22, "guest_port_end": 22, "vm_nic": _nic(vm1)}, format="json"), 201)
    job = Job.objects.filter(kind="createPortForwardingRule").get()
    assert [(s["name"], s["state"]) for s in job.steps] == [
        (f"Update the virtual router {vr.name} on HOST1", "done")]

    # 8. ssh root@<vip> from the public network lands in VM1.
    assert wait(lambda: client.ssh(vip1["ip"]) == "vm1", timeout=10), client.ssh(vip1["ip"])

    # 9-11. VM2; the rule moves to it; a session opened before the rebind stops, a new one lands in VM2.
    vm2 = create_vm(api, setup, "VM2", "vm2")["uuid"]
    assert move_rule(api, client, pf1, vip1, vm2, was="vm1"), "the session through the detached rule is still open"
    assert client.ssh(vip1["ip"]) == "vm2"

    # 12-13. PORT-FORWARDING2: a second VIP, port 2222 -> 22 of VM1.
    vip2 = body(api.post("/api/v1/vips/", {"name": "VIP2", "l3_network": setup["public_l3"]}, format="json"), 201)
    body(api.post("/api/v1/port-forwarding-rules/", {
        "name": "PORT-FORWARDING2", "vip": vip2["uuid"], "protocol": "TCP", "vip_port_start": 2222,
        "vip_port_end": 2222, "guest_port_start": 22, "guest_port_end": 22, "vm_nic": _nic(vm1)}, format="json"), 201)
    assert client.ssh(vip2["ip"], port=2222) == "vm1"

    # The router's namespace deleted by hand: the periodic check rebuilds it with its whole NAT state.
    via = agent_view(VmInstance.objects.select_related("host__cluster").get(pk=vm1).host)
    subprocess.run([*via, "ip", "netns", "delete", vr.namespace], check=True)
    repaired = reconcile_routers_scheduled()[vr.name]
    assert repaired[:3] == ["namespace", "leg", "public leg"] and "nat updated" in repaired, repaired
    assert client.ssh(vip2["ip"], port=2222) == "vm1" and client.ssh(vip1["ip"]) == "vm2"
    # Rebuilt on request (a job with its steps), the same.
    job = body(api.post(f"/api/v1/virtual-routers/{vr.pk}/rebuild/", {}, format="json"), 202)["job"]
    job = Job.objects.get(pk=job["uuid"])
    assert job.state == "succeeded", job.error
    assert [s["name"] for s in job.steps] == [
        f"Remove the virtual router {vr.name} from HOST1",
        f"Build the virtual router {vr.name} on HOST1: namespace, legs, dnsmasq, NAT"]
    assert client.ssh(vip2["ip"], port=2222) == "vm1"

    # Migrated to a second host of the cluster, the router keeps forwarding (guests stay on HOST1: the VLAN
    # and the public network cross hosts); deleting that host moves it back.
    job = body(api.post("/api/v1/hosts/", {"name": "HOST2", "cluster": setup["cluster"],
                                           "management_ip": free_ip(), "password": "s3cret-Pw"}, format="json"),
               202)["job"]
    assert Job.objects.get(pk=job["uuid"]).state == "succeeded", Job.objects.get(pk=job["uuid"]).error
    host2 = Host.objects.get(name="HOST2")
    job = body(api.post(f"/api/v1/virtual-routers/{vr.pk}/migrate/", {"host": str(host2.pk)}, format="json"),
               202)["job"]
    assert Job.objects.get(pk=job["uuid"]).state == "succeeded", Job.objects.get(pk=job["uuid"]).error
    assert body(api.get(f"/api/v1/virtual-routers/{vr.pk}/"), 200)["host_name"] == "HOST2"
    assert client.ssh(vip2["ip"], port=2222) == "vm1" and client.ssh(vip1["ip"]) == "vm2"
    # HOST2's agent goes away: the monitor moves the router back to HOST1 (a job); when HOST2 is back, the
    # copy it kept is removed from it.
    from django.conf import settings

    from apps.infra import sandbox
    from apps.infra.agent import HEARTBEAT_KEY, redis_connection
    from apps.infra.monitor import check_hosts

    def legs_on_host2():
        shown = subprocess.run(["ip", "-n", host2.netns, "-o", "link", "show"], capture_output=True, text=True).stdout
        return [leg for leg in (vr.leg, vr.public_leg) if f" {leg}@" in shown]

    sandbox.stop_agent(host2.netns)
    redis_connection().delete(HEARTBEAT_KEY.format(host2.uuid))  # as its expiry would
    assert check_hosts() == [("HOST2", "Disconnected")]
    job = Job.objects.filter(kind="migrateVirtualRouter").latest("created")
    assert job.state == "succeeded", job.error
    assert body(api.get(f"/api/v1/virtual-routers/{vr.pk}/"), 200)["host_name"] == "HOST1"
    assert client.ssh(vip2["ip"], port=2222) == "vm1" and client.ssh(vip1["ip"]) == "vm2"
    assert legs_on_host2() == [vr.leg, vr.public_leg]  # left on HOST2 while it is away
    sandbox.start_agent(host2.netns, str(host2.uuid), settings.RQ_QUEUES["default"]["URL"])
    assert wait(lambda: check_hosts() == [("HOST2", "Connected")], timeout=20)
    assert legs_on_host2() == []
    assert client.ssh(vip2["ip"], port=2222) == "vm1"
    job = body(api.delete(f"/api/v1/hosts/{host2.pk}/"), 202)["job"]
    assert Job.objects.get(pk=job["uuid"]).state == "succeeded", Job.objects.get(pk=job["uuid"]).error

    # What must hold besides: overlapping VIP ports refused; UDP forwarded; an allowed CIDR keeps others out.
    assert error(api.post("/api/v1/port-forwarding-rules/", {
        "name": "CLASH", "vip": vip2["uuid"], "protocol": "TCP", "vip_port_start": 2200, "vip_port_end": 2300,
        "guest_port_start": 2200, "guest_port_end": 2300}, format="json"), 409)["field"] == "vip_port_start"
    servers.append(_guest_server(vm1, "udp", 5353))
    body(api.post("/api/v1/port-forwarding-rules/", {
        "name": "DNS-UDP", "vip": vip2["uuid"], "protocol": "UDP", "vip_port_start": 53, "vip_port_end": 53,
        "guest_port_start": 5353, "guest_port_end": 5353, "vm_nic": _nic(vm1)}, format="json"), 201)
    assert wait(lambda: client.ask("udp", vip2["ip"], 53) == "vm1 198.51.100.250", timeout=5)
    servers.append(_guest_server(vm1, "tcp", 8080))
    body(api.post("/api/v1/port-forwarding-rules/", {
        "name": "ONLY-CLIENT", "vip": vip2["uuid"], "protocol": "TCP", "vip_port_start": 8081, "vip_port_end": 8081,
        "guest_port_start": 8080, "guest_port_end": 8080, "allowed_cidr": "198.51.100.250/32", "vm_nic": _nic(vm1)},
        format="json"), 201)
    assert wait(lambda: client.ask("tcp", vip2["ip"], 8081) == "vm1 198.51.100.250", timeout=5)
    assert outsider.ask("tcp", vip2["ip"], 8081, timeout=1).startswith("error")
    assert outsider.ssh(vip2["ip"], port=2222) == "vm1"

    # SNAT: a guest's traffic reaches the public network from the router's public address.
    client.serve("tcp", 9000)
    vm1_obj = VmInstance.objects.select_related("host__cluster").get(pk=vm1)
    via = agent_view(vm1_obj.host)
    vm1_spec = guest_spec(vm1_obj, vm1_obj.host)
    seen = wait(lambda: guests.run_in(vm1_spec, "python3", "-c", _ASK, client.ip, "9000", via=via).stdout.strip())
    assert seen == f"client {public_ip}"

    # Hairpin: VM1 reaches VIP1:22 (forwarded to VM2) from behind the same router.
    hairpin = guests.run_in(vm1_spec, "ssh", "-i", str(guest_key_path()), *SSH_OPTIONS, f"root@{vip1['ip']}",
                            "hostname", via=via)
    assert hairpin.stdout.strip() == "vm2", hairpin.stderr

    # EIP on a third VIP for VM2, whose security group lets in SSH only: the client reaches VM2's port 22
    # through it and nothing else; VM2 leaves as the EIP.
    group = body(api.post("/api/v1/security-groups/", {"name": "SSH-ONLY"}, format="json"), 201)["uuid"]
    body(api.post(f"/api/v1/security-groups/{group}/rules/", {"type": "Ingress", "protocol": "TCP",
                                                             "start_port": 22, "end_port": 22, "allowed_cidr": ""},
                  format="json"), 201)
    body(api.post(f"/api/v1/security-groups/{group}/l3-networks/", {"l3_network": setup["l3"]}, format="json"), 200)
    body(api.post(f"/api/v1/security-groups/{group}/nics/", {"nics": [_nic(vm2)]}, format="json"), 200)
    servers.append(_guest_server(vm2, "tcp", 8080))
    vip3 = body(api.post("/api/v1/vips/", {"name": "VIP3", "l3_network": setup["public_l3"]}, format="json"), 201)
    eip = body(api.post("/api/v1/eips/", {"name": "EIP1", "vip": vip3["uuid"], "vm_nic": _nic(vm2)},
                        format="json"), 201)
    assert client.ssh(vip3["ip"]) == "vm2"
    assert client.ask("tcp", vip3["ip"], 8080, timeout=1).startswith("error")
    vm2_obj = VmInstance.objects.select_related("host__cluster").get(pk=vm2)
    vm2_spec = guest_spec(vm2_obj, vm2_obj.host)
    assert guests.run_in(vm2_spec, "python3", "-c", _ASK, client.ip, "9000", via=via).stdout.strip() == \
        f"client {vip3['ip']}"

    # The router read back holds exactly these entries.
    spec = router_spec(vr)
    nat = router.read_tables(router.RouterSpec.from_dict(spec))["nat"]
    assert len(nat["nimbo-dnat"]) == 5 and sum("eip-" in r for r in nat["nimbo-snat"]) == 1
    assert router.router_status(spec)["state"] == "Running"

    # Teardown through the API: each delete removes exactly its entries; the system ends empty.
    assert api.delete(f"/api/v1/eips/{eip['uuid']}/").status_code == 204
    nat = router.read_tables(router.RouterSpec.from_dict(spec))["nat"]
    assert len(nat["nimbo-dnat"]) == 4 and not any("eip-" in r for r in nat["nimbo-snat"])
    assert client.ssh(vip3["ip"]).startswith("error")
    assert api.delete(f"/api/v1/vips/{vip2['uuid']}/").status_code == 204  # and its three rules
    nat = router.read_tables(router.RouterSpec.from_dict(spec))["nat"]
    assert len(nat["nimbo-dnat"]) == 1 and vip1["ip"] in nat["nimbo-dnat"][0]
    assert client.ssh(vip1["ip"]) == "vm2"
    for vm in (vm1, vm2):
        body(api.post(f"/api/v1/vms/{vm}/destroy/", {}, format="json"), 202)
    nat = router.read_tables(router.RouterSpec.from_dict(spec))["nat"]
    assert nat["nimbo-dnat"] == []
    for path in (f"/api/v1/vips/{vip1['uuid']}/", f"/api/v1/vips/{vip3['uuid']}/",
                 f"/api/v1/security-groups/{group}/"):
        assert api.delete(path).status_code == 204, path
    assert api.delete(f"/api/v1/l3-networks/{setup['l3']}/").status_code == 204
    assert not VirtualRouter.objects.exists()
    assert not _in_agent_netns(via, spec["name"])
    assert body(api.get(f"/api/v1/l3-networks/{setup['public_l3']}/used-ips/"), 200)["results"] == []
    _tear_down_everything(api, setup)


_ASK = r"""
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
    print(s.makefile().readline().strip())
except OSError as exc:
    print(f"error {type(exc).__name__}")
"""


def _in_agent_netns(via, name):
    return subprocess.run([*via, "ip", "netns", "list"], capture_output=True, text=True).stdout.count(name) > 0


def _tear_down_everything(api, setup):
    """Everything the scenario made, deleted through the API in the order a user would."""
    detach = {"l2-networks": ("attached_clusters", "cluster"), "primary-storages": ("clusters", "cluster"),
              "backup-storages": ("zones", "zone")}
    for kind in ("virtual-router-offerings", "l3-networks", "l2-networks", "instance-offerings", "images",
                 "primary-storages", "backup-storages", "hosts", "clusters", "zones"):
        for item in body(api.get(f"/api/v1/{kind}/"), 200)["results"]:
            field, key = detach.get(kind, ("-", None))
            for ref in item.get(field, []):
                assert api.post(f"/api/v1/{kind}/{item['uuid']}/detach/", {key: ref},
                                format="json").status_code in (200, 202), (kind, item["name"])
            reply = api.delete(f"/api/v1/{kind}/{item['uuid']}/")
            assert reply.status_code in (202, 204), (kind, item.get("name"), reply.content)
    for kind in ("l3-networks", "l2-networks", "hosts", "clusters", "zones", "virtual-routers", "vips", "images",
                 "primary-storages", "backup-storages"):
        assert body(api.get(f"/api/v1/{kind}/"), 200)["results"] == [], kind
