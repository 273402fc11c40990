"""Scenario 02 through the REST API with libvirt guests booted from the built image, on values other than the
guide's (VLAN 231, guests on 10.23.0.0/24, public range .220-.229): from a client on the public network,
`ssh root@<vip>` lands in VM1, then in VM2 after the rule moves (a session opened before stops), `ssh -p 2222
root@<vip2>` in VM1; guests leave through SNAT as the router's public address, VM2 as its EIP; VM1 reaches
VIP1:22 from behind the router (hairpin); the teardown through the API ends with an empty system."""

import shutil

import pytest

from apps.infra.guest_image import GUEST_PASSWORD
from apps.vrouter.models import VirtualRouter
from tests.support.api import body
from tests.support.scenario01 import create_vm, wait
from tests.support.scenario02 import Client, cloud02, move_rule, nic_of as _nic

pytestmark = [
    pytest.mark.django_db(transaction=True), pytest.mark.root, pytest.mark.slow,
    pytest.mark.skipif(not (shutil.which("libvirtd") and shutil.which("qemu-system-x86_64")),
                       reason="needs libvirtd and QEMU"),
]
BOOT = 240  # seconds a guest may take to boot under software emulation on a loaded machine


def test_scenario_02_libvirt_guests(api, jobs_inline, sandboxes, libvirtd, guest_key):
    """libvirtd is not started by the test: adding the host starts it, as on a fresh machine."""
    setup = cloud02(api, sandboxes, vlan=231, public=("198.51.100.220", "198.51.100.229"), cidr="10.23.0.0/24",
                    real_image=True)
    client = Client("lpub", "198.51.100.249/24", key=guest_key)
    try:
        _scenario(api, setup, client)
    finally:
        client.close()


def _scenario(api, setup, client):
    vm1 = create_vm(api, setup, "VM1", "vm1", kind="Libvirt")["uuid"]
    vm2 = create_vm(api, setup, "VM2", "vm2", kind="Libvirt")["uuid"]
    for vm in (vm1, vm2):
        assert body(api.get(f"/api/v1/vms/{vm}/"), 200)["state"] == "Running"
    vr = VirtualRouter.objects.get()
    public_ip = vr.public_address
    assert vr.address == "10.23.0.1" and public_ip.startswith("198.51.100.22")

    def pf(name, vip, vip_port, guest_port, vm):
        return body(api.post("/api/v1/port-forwarding-rules/", {
            "name": name, "vip": vip, "protocol": "TCP", "vip_port_start": vip_port, "vip_port_end": vip_port,
            "guest_port_start": guest_port, "guest_port_end": guest_port, "vm_nic": _nic(vm)}, format="json"), 201)

    def new_vip(name):
        return body(api.post("/api/v1/vips/", {"name": name, "l3_network": setup["public_l3"]}, format="json"), 201)

    # ssh root@<vip> lands in VM1 once it has booted.
    vip1 = new_vip("VIP1")
    pf1 = pf("PORT-FORWARDING1", vip1["uuid"], 22, 22, vm1)
    assert wait(lambda: client.ssh(vip1["ip"], timeout=15) == "vm1", timeout=BOOT, interval=2), \
        client.ssh(vip1["ip"])
    # SNAT: VM1 reaches a listener on the public network as the router's public address.
    client.serve("tcp", 9000)
    assert client.ssh(vip1["ip"], f"busybox nc -w 2 {client.ip} 9000 </dev/null") == f"client {public_ip}"

    # The rule moves to VM2: the open session stops, a new one lands in VM2.
    assert move_rule(api, client, pf1, vip1, vm2, was="vm1"), "the session through the detached rule is still open"
    assert wait(lambda: client.ssh(vip1["ip"], timeout=15) == "vm2", timeout=BOOT, interval=2)

    # ssh -p 2222 root@<vip2> lands in VM1; from VM1, VIP1:22 (VM2) works through the router (hairpin).
    vip2 = new_vip("VIP2")
    pf("PORT-FORWARDING2", vip2["uuid"], 2222, 22, vm1)
    assert client.ssh(vip2["ip"], port=2222) == "vm1"
    hairpin = client.ssh(vip2["ip"], f"DROPBEAR_PASSWORD={GUEST_PASSWORD} timeout 20 ssh -y -y root@{vip1['ip']} "
                                     "hostname", port=2222)
    assert hairpin.splitlines()[-1:] == ["vm2"], hairpin

    # An EIP for VM2: reached through it from the public network, and VM2 leaves as the EIP.
    vip3 = new_vip("VIP3")
    body(api.post("/api/v1/eips/", {"name": "EIP1", "vip": vip3["uuid"], "vm_nic": _nic(vm2)}, format="json"), 201)
    assert client.ssh(vip3["ip"]) == "vm2"
    assert client.ssh(vip3["ip"], f"busybox nc -w 2 {client.ip} 9000 </dev/null") == f"client {vip3['ip']}"

    # Teardown through the API, to an empty system.
    for vm in (vm1, vm2):
        body(api.post(f"/api/v1/vms/{vm}/destroy/", {}, format="json"), 202)
    for vip in (vip1, vip2, vip3):
        assert api.delete(f"/api/v1/vips/{vip['uuid']}/").status_code == 204
    from tests.scenarios.test_02_port_forwarding_namespaces import _tear_down_everything

    _tear_down_everything(api, setup)
