"""L2 networks realised on two sandbox hosts: bridges, VLAN separation across hosts, removal."""

import subprocess
import time
import uuid

import pytest

from apps.infra import realise, sandbox, services
from apps.infra.models import Host
from tests.support.factories import make_cluster, make_l2
from tests.support.sandbox import free_ip

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.root]


def links(ns):
    out = sandbox.run("ip", "-n", ns, "-o", "link", "show").stdout
    return {line.split(": ")[1].split("@")[0] for line in out.splitlines()}


def master_of(ns, ifname):
    out = sandbox.run("ip", "-n", ns, "-o", "link", "show", ifname).stdout
    return out.split(" master ")[1].split()[0] if " master " in out else None


class Guests:
    """Namespaces standing in for guests: a veth into a bridge of a sandbox host."""

    def __init__(self):
        self.tag = uuid.uuid4().hex[:6]
        self.created = []
        self.ports = []

    def plug(self, name, host_ns, bridge, address):
        ns = f"nimbo-t-{self.tag}-{name}"
        dev = f"t{self.tag}{name}"
        sandbox.run("ip", "netns", "add", ns)
        self.created.append(ns)
        self.ports.append((host_ns, dev))
        sandbox.run("ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", dev, "netns", host_ns)
        sandbox.run("ip", "-n", host_ns, "link", "set", dev, "master", bridge, "up")
        sandbox.run("ip", "-n", ns, "addr", "add", address, "dev", "eth0")
        sandbox.run("ip", "-n", ns, "link", "set", "eth0", "up")
        return ns

    def client(self, name, address, vlan=None):
        ns = sandbox.ensure_client(name, address, vlan=vlan)
        self.created.append(ns)
        return ns

    def remove(self):
        for ns in self.created:
            sandbox.run("ip", "netns", "del", ns, check=False)
        # The kernel tears a deleted namespace's veths down in the background: wait for the peers.
        for _ in range(100):
            if not any(sandbox.run("ip", "-n", host_ns, "link", "show", dev, check=False).returncode == 0
                       for host_ns, dev in self.ports):
                break
            time.sleep(0.05)
        self.created, self.ports = [], []


@pytest.fixture
def guests():
    g = Guests()
    yield g
    g.remove()


def ping(ns, address, count=2):
    return subprocess.run(["ip", "netns", "exec", ns, "ping", "-c", str(count), "-W", "1", "-i", "0.2", address],
                          capture_output=True).returncode == 0


def test_l2_networks_on_two_sandbox_hosts(jobs_inline, user, sandboxes, guests):
    cluster = make_cluster(hypervisor_type="Sandbox")
    flat = make_l2(zone=cluster.zone, name="FLAT-L2", clusters=[cluster])
    hosts = []
    for name in ("HOST1", "HOST2"):
        job = services.add_host(user=user, name=name, cluster=cluster, management_ip=free_ip(), password="s3cret-Pw")
        job.refresh_from_db()
        assert job.state == "succeeded", job.error
        host = Host.objects.get(name=name)
        sandboxes.track(host.netns)
        # A host connecting builds the bridges of the L2 networks already attached to its cluster.
        assert "Build the bridges of 1 L2 network(s)" in [s["name"] for s in job.steps]
        assert master_of(host.netns, "eth0") == "br_eth0"
        hosts.append(host)
    a, b = (h.netns for h in hosts)

    private = make_l2(zone=cluster.zone, name="PRIVATE-L2", vlan=100, clusters=[cluster])
    other = make_l2(zone=cluster.zone, name="OTHER-L2", vlan=200, clusters=[cluster])
    assert realise.realise_l2_on_cluster(private, cluster) == {"HOST1": "br_eth0_100", "HOST2": "br_eth0_100"}
    assert realise.realise_l2_on_cluster(other, cluster) == {"HOST1": "br_eth0_200", "HOST2": "br_eth0_200"}
    # Idempotent: realising again changes nothing.
    assert realise.realise_l2_on_cluster(private, cluster) == {"HOST1": "br_eth0_100", "HOST2": "br_eth0_100"}
    for ns in (a, b):
        assert {"br_eth0", "eth0.100", "br_eth0_100", "eth0.200", "br_eth0_200"} <= links(ns)
        assert master_of(ns, "eth0.100") == "br_eth0_100" and master_of(ns, "eth0.200") == "br_eth0_200"

    g1 = guests.plug("a", a, "br_eth0_100", "10.0.0.11/24")
    guests.plug("b", b, "br_eth0_100", "10.0.0.12/24")
    guests.plug("c", b, "br_eth0_200", "10.0.0.13/24")
    assert ping(g1, "10.0.0.12"), "VLAN 100 must cross from HOST1 to HOST2"
    assert not ping(g1, "10.0.0.13", count=1), "VLAN 100 must not reach VLAN 200"

    # A person on the sandbox network (manage.py sandbox_shell) reaches guests on the flat network
    # and, from a client on VLAN 100, the guests of VLAN 100.
    flat_guest = guests.plug("f", a, "br_eth0", "198.51.100.77/24")
    client = guests.client(f"{guests.tag}-flat", "198.51.100.250/24")
    assert ping(client, "198.51.100.77") and flat_guest
    client100 = guests.client(f"{guests.tag}-v100", "10.0.0.250/24", vlan=100)
    assert ping(client100, "10.0.0.12") and not ping(client100, "10.0.0.13", count=1)

    # A bridge with guests plugged in stays; once they are gone, detaching removes it everywhere.
    outcome = realise.unrealise_l2_on_cluster(private, cluster)
    assert outcome["HOST1"]["removed"] is False and outcome["HOST1"]["in_use"] == [f"t{guests.tag}a"]
    assert outcome["HOST2"]["in_use"] == [f"t{guests.tag}b"]
    guests.remove()
    outcome = realise.unrealise_l2_on_cluster(private, cluster)
    assert {name: r["removed"] for name, r in outcome.items()} == {"HOST1": True, "HOST2": True}
    for ns in (a, b):
        assert not {"eth0.100", "br_eth0_100"} & links(ns)
        assert {"br_eth0", "br_eth0_200"} <= links(ns)
    # Removing what is already gone is fine.
    assert realise.unrealise_l2_on_cluster(private, cluster)["HOST2"]["removed"] is False
    realise.unrealise_l2_on_cluster(flat, cluster)
    assert master_of(a, "eth0") is None and "br_eth0" not in links(a)


def test_realise_job_reports_the_bridges(jobs_inline, user, sandboxes):
    cluster = make_cluster(hypervisor_type="Sandbox")
    job = services.add_host(user=user, name="HOST1", cluster=cluster, management_ip=free_ip(), password="pw-S3cret")
    job.refresh_from_db()
    assert job.state == "succeeded", job.error
    sandboxes.track(Host.objects.get().netns)
    l2 = make_l2(zone=cluster.zone, name="PRIVATE-L2", vlan=300, clusters=[cluster])
    job = services.start_realise_l2(l2, cluster, user=user)
    job.refresh_from_db()
    assert job.state == "succeeded" and job.result["bridges"] == {"HOST1": "br_eth0_300"}
    job = services.start_unrealise_l2(l2, cluster, user=user)
    job.refresh_from_db()
    assert job.state == "succeeded" and job.result["hosts"]["HOST1"]["removed"] is True


def test_attaching_through_the_api_builds_the_bridges_and_detaching_removes_them(jobs_inline, user, api, sandboxes):
    from apps.core.models import Job
    from apps.networks.models import L2Network

    cluster = make_cluster(hypervisor_type="Sandbox")
    job = services.add_host(user=user, name="HOST1", cluster=cluster, management_ip=free_ip(), password="pw-S3cret")
    job.refresh_from_db()
    assert job.state == "succeeded", job.error
    host = Host.objects.get()
    sandboxes.track(host.netns)
    l2 = L2Network.objects.create(zone=cluster.zone, name="PRIVATE-L2", type="L2VlanNetwork",
                                  physical_interface="eth0", vlan=400)
    response = api.post(f"/api/v1/l2-networks/{l2.uuid}/attach/", {"cluster": str(cluster.uuid)}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["attached_clusters"] == [str(cluster.uuid)]
    realised = Job.objects.get(kind="realiseL2Network")
    assert realised.state == "succeeded" and realised.result["bridges"] == {"HOST1": "br_eth0_400"}
    assert master_of(host.netns, "eth0.400") == "br_eth0_400"
    response = api.post(f"/api/v1/l2-networks/{l2.uuid}/detach/", {"cluster": str(cluster.uuid)}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["attached_clusters"] == []
    assert Job.objects.get(kind="unrealiseL2Network").state == "succeeded"
    assert not {"eth0.400", "br_eth0_400"} & links(host.netns)
