"""Scenario 02's cloud through the REST API on a sandbox host, shared by its tests.

`cloud02()` builds steps 1-5 on top of scenario 01's zone, cluster, host, offering and images (`base_cloud`): a public
System L3 on an untagged L2 and a private L3 on a VLAN behind the router's DHCP, DNS, SNAT, port
forwarding and EIP (and security groups), with VR-OFFERING on the public L3. The VLAN, the ranges and
the names are parameters: the scenario's values are only the defaults. `Client` is a namespace on the
sandbox's public network that runs ssh and small servers there.
"""

import subprocess
import sys
import time

from apps.compute.guest_specs import guest_key_path
from apps.infra import sandbox
from tests.support.api import body
from tests.support.natlab import CLIENT, SERVER
from tests.support.scenario01 import base_cloud

SSH_OPTIONS = ("-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
               "-o", "ConnectTimeout=4")


def cloud02(api, tracker, *, vlan=100, public=("198.51.100.230", "198.51.100.240"), cidr="10.0.0.0/24",
            real_image=False):
    base = base_cloud(api, tracker, real_image=real_image)
    zone, cluster = base["zone"], base["cluster"]

    def l2(name, **extra):
        uuid = body(api.post("/api/v1/l2-networks/", {"name": name, "zone": zone, "physical_interface": "eth0",
                                                      **extra}, format="json"), 201)["uuid"]
        body(api.post(f"/api/v1/l2-networks/{uuid}/attach/", {"cluster": cluster}, format="json"), 200)
        return uuid

    public_l2 = l2("PUBLIC-MANAGEMENT-L2", type="L2NoVlanNetwork")
    private_l2 = l2("PRIVATE-L2", type="L2VlanNetwork", vlan=vlan)
    public_l3 = body(api.post("/api/v1/l3-networks/", {"name": "PUBLIC-MANAGEMENT-L3", "l2_network": public_l2,
                                                       "system": True}, format="json"), 201)["uuid"]
    body(api.post(f"/api/v1/l3-networks/{public_l3}/ip-ranges/", {
        "name": "PUBLIC-IP-RANGE", "start_ip": public[0], "end_ip": public[1], "netmask": "255.255.255.0",
        "gateway": public[0].rsplit(".", 1)[0] + ".1"}, format="json"), 201)
    private_l3 = body(api.post("/api/v1/l3-networks/", {"name": "PRIVATE-L3", "l2_network": private_l2,
                                                        "dns_domain": "tutorials.zstack.org"}, format="json"),
                      201)["uuid"]
    url = f"/api/v1/l3-networks/{private_l3}"
    body(api.post(f"{url}/ip-ranges/", {"name": "PRIVATE-IP-RANGE", "network_cidr": cidr}, format="json"), 201)
    body(api.post(f"{url}/dns/", {"dns": "8.8.8.8"}, format="json"), 200)
    body(api.post(f"{url}/network-services/", {"services": {
        "VirtualRouter": ["DHCP", "DNS", "SNAT", "PortForwarding", "Eip"], "SecurityGroup": ["SecurityGroup"]}},
        format="json"), 200)
    body(api.post("/api/v1/virtual-router-offerings/", {
        "name": "VR-OFFERING", "zone": zone, "cpu_num": 1, "memory_size": "512M", "image": base["vr_image"],
        "management_l3": public_l3, "public_l3": public_l3, "is_default": True}, format="json"), 201)
    return {**base, "l3": private_l3, "public_l3": public_l3}


class Client:
    """A namespace on the sandbox's public (untagged) network with `address` ("198.51.100.250/24")."""

    def __init__(self, name, address, key=None):
        self.ns = sandbox.ensure_client(name, address)
        self.ip = address.split("/")[0]
        self.procs = []
        self.key = key  # the private key guests accept (namespace guests': guest_key_path())

    def run(self, *cmd, timeout=20):
        return subprocess.run(["ip", "netns", "exec", self.ns, *cmd], capture_output=True, text=True,
                              timeout=timeout)

    def ssh(self, target, command="hostname", port=22, timeout=30):
        try:
            out = self.run("ssh", "-i", str(self.key or guest_key_path()), *SSH_OPTIONS, "-o", "LogLevel=ERROR",
                           "-p", str(port), f"root@{target}", command, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "error: timed out"
        return out.stdout.strip() if out.returncode == 0 else f"error {out.returncode}: {out.stderr.strip()[-200:]}"

    def open_ssh(self, target, port=22):
        """A session that prints the guest's host name every 0.2 s for a minute."""
        proc = subprocess.Popen(["ip", "netns", "exec", self.ns, "ssh", "-i", str(self.key or guest_key_path()),
                                 *SSH_OPTIONS,
                                 "-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=2", "-p", str(port),
                                 f"root@{target}", "for i in $(seq 300); do hostname; sleep 0.2; done"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.procs.append(proc)
        return proc

    def serve(self, proto, port, label="client"):
        proc = subprocess.Popen(["ip", "netns", "exec", self.ns, sys.executable, "-c", SERVER, label, proto,
                                 str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def ask(self, proto, ip, port, timeout=2.0):
        out = self.run(sys.executable, "-c", CLIENT, proto, ip, str(port), str(timeout), timeout=timeout + 10)
        return out.stdout.strip()

    def close(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def nic_of(vm_uuid):
    """The id of a one-NIC VM's NIC."""
    from apps.compute.models import VmInstance

    return str(VmInstance.objects.get(pk=vm_uuid).nics.get().pk)


def move_rule(api, client, rule, vip, vm, was, timeout=15):
    """Open an SSH session through `rule` (it must land in the guest named `was`), then detach the rule and
    attach it to `vm`'s NIC through the API: True once that session has ended."""
    session = client.open_ssh(vip["ip"])
    assert session.stdout.readline().strip() == was
    body(api.post(f"/api/v1/port-forwarding-rules/{rule['uuid']}/detach/", {}, format="json"), 200)
    body(api.post(f"/api/v1/port-forwarding-rules/{rule['uuid']}/attach/", {"vm_nic": nic_of(vm)}, format="json"),
         200)
    deadline = time.monotonic() + timeout
    while session.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return session.poll() is not None
