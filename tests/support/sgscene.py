"""A sandbox host in the database and on the machine: a Host of a Sandbox cluster whose
namespace is a `Lab`, and VMs whose NICs are the lab's guests (static addresses from IPAM)."""

import contextlib

from apps.infra.models import Cluster, Host
from apps.secgroups.sync import host_namespace
from tests.support.factories import make_l2, make_l3, make_nic, make_vm, make_zone
from tests.support.sglab import Lab


class Scene:
    def __init__(self, lab, host, l3):
        self.lab, self.host, self.l3 = lab, host, l3

    def vm(self, name, ip, sshd=True):
        """A running VM on the sandbox host with one NIC on the L3 at `ip`, and its guest namespace."""
        vm = make_vm(name, zone=self.l3.l2_network.zone, host=self.host, cluster=self.host.cluster)
        nic = make_nic(vm, self.l3, ip=ip)
        guest = self.lab.guest(name.lower()[:6], nic.ip, mac=nic.mac, sshd=sshd, device=nic.internal_name)
        guest.nic = nic
        return guest


@contextlib.contextmanager
def sandbox_scene(cidr="198.51.100.0/24"):
    zone = make_zone()
    cluster = Cluster.objects.create(zone=zone, name="CLUSTER1", hypervisor_type="Sandbox")
    host = Host.objects.create(cluster=cluster, name="HOST1", management_ip="127.0.0.1", status="Connected")
    l2 = make_l2(zone=zone, clusters=[cluster])
    l3 = make_l3(l2=l2, services=["DHCP", "DNS", "SecurityGroup"], cidr=cidr)
    with Lab(host_ns=host_namespace(host)) as lab:
        yield Scene(lab, host, l3)
