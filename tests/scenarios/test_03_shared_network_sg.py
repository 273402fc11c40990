"""Scenario 03: security groups on a shared network with public addresses, through the API, with
namespace guests on a sandbox host and real packets (shared/scenarios/03)."""

import pytest

from apps.secgroups.compile import group_chains, l2_chain, nic_chains
from apps.secgroups.models import HostFirewall
from tests.support.sgscene import sandbox_scene

pytestmark = [pytest.mark.root, pytest.mark.django_db(transaction=True)]


def test_scenario_03(api, jobs_inline):
    with sandbox_scene() as scene:
        vm = scene.vm("VM", "198.51.100.10")
        inside = scene.vm("INSIDE", "198.51.100.20")  # in the SSH CIDR below, in no group
        outside = scene.vm("OUTSIDE", "198.51.100.40", sshd=False)

        # 1-2. A group on the shared L3, the VM's NIC in it.
        group = api.post("/api/v1/security-groups/", {"name": "web"}, format="json").json()
        base = f"/api/v1/security-groups/{group['uuid']}"
        assert api.post(f"{base}/l3-networks/", {"l3_network": str(scene.l3.uuid)}, format="json").status_code == 200
        assert api.post(f"{base}/nics/", {"nics": [str(vm.nic.pk)]}, format="json").status_code == 200

        # 3. Egress allowed, ingress dropped.
        assert vm.ping(inside), "the VM reaches the outside"
        assert not inside.ping(vm) and inside.tcp(vm) == "", "nothing reaches the VM"

        # 4. ICMP, all types (-1), from anywhere: ping works, nothing else gets in.
        reply = api.post(f"{base}/rules/", {"type": "Ingress", "protocol": "ICMP", "start_port": -1, "end_port": -1},
                         format="json")
        assert reply.status_code == 201, reply.content
        assert inside.ping(vm) and outside.ping(vm)
        assert inside.tcp(vm) == ""

        # 5. SSH from one CIDR only.
        reply = api.post(f"{base}/rules/", {"type": "Ingress", "protocol": "TCP", "start_port": 22, "end_port": 22,
                                            "allowed_cidr": "198.51.100.16/28"}, format="json")
        assert reply.status_code == 201, reply.content
        assert inside.tcp(vm).startswith("SSH-2.0-OpenSSH")
        assert outside.tcp(vm) == ""

        # 6. The operator's view of the rules that realise this, per VM, read back from the host.
        shown = api.get(f"/api/v1/vm-nics/{vm.nic.pk}/firewall/").json()
        ingress, defaults, egress = nic_chains(vm.nic.pk)
        assert shown["chains"] == [ingress, defaults, egress, l2_chain(vm.nic.pk)]
        assert [g["name"] for g in shown["groups"]] == ["web"] and len(shown["groups"][0]["rules"]) == 4
        live = shown["realised"]["v4"]
        ssh_rule = reply.json()["uuid"]
        rules_chain = group_chains(group["uuid"])[0]
        assert f"-A {ingress} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT" in live
        assert f"-A {ingress} -j {rules_chain}" in live and live[live.index(f"-A {ingress} -j {rules_chain}") + 1] == (
            f"-A {ingress} -j DROP"), "default deny after the group's rules"
        assert (f'-A {rules_chain} -s 198.51.100.16/28 -p tcp -m tcp --dport 22 -m comment --comment "r:{ssh_rule}" '
                "-j ACCEPT") in live
        assert f"-A {defaults} -s 198.51.100.10/32 -m mac --mac-source {vm.nic.mac} -j RETURN" in live
        assert f"-A {defaults} -j DROP" in live
        link = shown["realised"]["eb"]
        assert f"-A {l2_chain(vm.nic.pk)} -p ARP --arp-ip-src 198.51.100.10 -j RETURN" in link
        assert link[-1] == f"-A {l2_chain(vm.nic.pk)} -p ARP -j DROP", "any other ARP from the VM is dropped"
        assert shown["read_back_error"] == ""

        # 7. A guest that changes its own IP or MAC gets nothing through.
        vm.set_ip("198.51.100.11")
        assert not vm.ping(inside)
        vm.set_ip("198.51.100.10")
        assert vm.ping(inside)
        vm.set_mac("fa:00:00:00:00:99")
        assert not vm.ping(inside)

        state = HostFirewall.objects.get(host=scene.host)
        assert state.failures == 0 and state.last_applied is not None
