"""The network and VM models' own rules: names of host devices, ranges from CIDRs, constraints."""

import pytest
from django.db import IntegrityError

from apps.compute.models import VmNic
from apps.networks.models import L2Network
from apps.networks.models.ipam import cidr_to_range
from tests.support.factories import make_cluster, make_l2, make_l3, make_vm

pytestmark = pytest.mark.django_db


def test_bridge_and_vlan_interface_names():
    assert L2Network(physical_interface="eth0", type="L2NoVlanNetwork").bridge_name == "br_eth0"
    vlan = L2Network(physical_interface="eth0", type="L2VlanNetwork", vlan=100)
    assert (vlan.bridge_name, vlan.vlan_interface, vlan.host_interface) == ("br_eth0_100", "eth0.100", "eth0.100")
    long = L2Network(physical_interface="enp0s31f6", type="L2VlanNetwork", vlan=4094)
    assert len(long.bridge_name) == 15 and long.bridge_name.startswith("br_")
    assert long.bridge_name == L2Network(physical_interface="enp0s31f6", type="L2VlanNetwork", vlan=4094).bridge_name
    assert long.bridge_name != L2Network(physical_interface="enp0s31f6", type="L2VlanNetwork", vlan=4093).bridge_name


def test_cidr_gives_gateway_first_and_range_the_rest():
    assert cidr_to_range("10.0.0.0/24") == {"start_ip": "10.0.0.2", "end_ip": "10.0.0.254",
                                            "netmask": "255.255.255.0", "gateway": "10.0.0.1"}


def test_database_refuses_two_networks_on_one_interface_in_a_cluster():
    cluster = make_cluster()
    make_l2(name="A", clusters=[cluster])
    make_l2(zone=cluster.zone, name="V100", vlan=100, clusters=[cluster])  # eth0.100 is another wire
    with pytest.raises(IntegrityError):
        make_l2(zone=cluster.zone, name="B", clusters=[cluster])


def test_nic_names_and_mac():
    l3 = make_l3(cidr="10.0.0.0/24", services=["DHCP"])
    vm = make_vm(l3s=[l3])
    nic = vm.nics.get()
    assert nic.ip == "10.0.0.2" and nic.gateway == "10.0.0.1" and nic.netmask == "255.255.255.0"
    assert nic.internal_name == "vnic" + nic.uuid.hex[:10] and len(nic.internal_name) <= 15
    assert VmNic.objects.get(pk=nic.pk).internal_name == nic.internal_name
    first = int(nic.mac.split(":")[0], 16)
    assert first & 0b10 and not first & 0b1  # locally administered, unicast
    assert l3.has_service("DHCP") and not l3.has_service("SecurityGroup")
