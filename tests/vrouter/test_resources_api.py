"""Router offerings, VIPs, port forwarding rules and EIPs through the API, as every resource
(tests/support/resources.py). Their own rules, with their exact errors: test_api.py."""

import pytest

from apps.vrouter.models import Eip, PortForwardingRule, Vip, VirtualRouterOffering
from tests.support.factories import make_l2, make_l3, make_vip, make_vm, make_vr_offering, make_zone
from tests.support.resources import ResourceAPITests

pytestmark = pytest.mark.django_db


class RouterNetworks:
    """PUBLIC (System, 198.51.100.0/24) and PRIVATE (10.0.0.0/24 with port forwarding and EIP) in ZONE1."""

    def public(self):
        if not hasattr(self, "_public"):
            self._public = make_l3(name="PUBLIC", system=True, cidr="198.51.100.0/24")
        return self._public

    def private(self):
        if not hasattr(self, "_private"):
            l2 = make_l2(self.public().l2_network.zone, name="PRIVATE-L2", vlan=100)
            self._private = make_l3(l2, name="PRIVATE", cidr="10.0.0.0/24",
                                    services=["DHCP", "DNS", "SNAT", "PortForwarding", "Eip"])
        return self._private

    def nic(self, i):
        return make_vm(name=f"VM-{i}", l3s=[self.private()]).nics.get()


class TestVirtualRouterOfferingAPI(RouterNetworks, ResourceAPITests):
    url = "/api/v1/virtual-router-offerings/"
    model = VirtualRouterOffering
    kind = "VirtualRouterOffering"
    create_expected = {"name": "VR-OFFERING", "cpu_num": 1, "memory_size": 512 * 1024**2, "is_default": False}
    update_data = {"description": "small routers", "is_default": True}
    duplicate_error = {"code": "duplicate", "field": None,
                       "message": "Virtual router offering with this Zone and Name already exists."}
    required_error = {"code": "required", "field": "name", "message": "This field is required."}
    list_queries = 4

    def create_data(self):
        return {"name": "VR-OFFERING", "zone": str(self.public().l2_network.zone.uuid), "cpu_num": 1,
                "cpu_speed": 512, "memory_size": "512M", "management_l3": str(self.public().uuid)}

    def make(self, i):
        return make_vr_offering(self.public(), name=f"VR-{i}", is_default=i == 1)

    def filters(self):
        for i in range(3):
            self.make(i)
        other = make_l3(make_l2(make_zone(name="ZONE2"), name="L2-2"), name="PUBLIC-2", system=True)
        make_vr_offering(other, name="VR-9", is_default=False)
        return [({"is_default": "true"}, ["VR-1"]), ({"zone": str(other.l2_network.zone.uuid)}, ["VR-9"])]


class TestVipAPI(RouterNetworks, ResourceAPITests):
    url = "/api/v1/vips/"
    model = Vip
    kind = "Vip"
    create_expected = {"name": "VIP1", "ip": "198.51.100.2", "use_for": []}
    update_data = {"name": "WEB-VIP", "description": "web"}
    frozen_fields = {"ip": ("198.51.100.98", "The IP address of a VIP cannot be changed.")}
    required_error = {"code": "required", "field": "name", "message": "This field is required."}
    list_queries = 4

    def create_data(self):
        return {"name": "VIP1", "l3_network": str(self.public().uuid)}

    def make(self, i):
        return make_vip(self.public(), name=f"VIP-{i}")

    def filters(self):
        rows = [self.make(i) for i in range(3)]
        return [({"ip": rows[1].ip}, ["VIP-1"]), ({"l3_network": str(self.public().uuid)}, ["VIP-0", "VIP-1", "VIP-2"])]


class TestPortForwardingRuleAPI(RouterNetworks, ResourceAPITests):
    url = "/api/v1/port-forwarding-rules/"
    model = PortForwardingRule
    kind = "PortForwardingRule"
    create_expected = {"name": "PF", "protocol": "TCP", "vip_port_start": 22, "vip_port_end": 22,
                       "guest_port_start": 22, "guest_port_end": 22}
    update_data = {"description": "ssh"}
    required_error = {"code": "required", "field": "name", "message": "This field is required."}
    list_queries = 4

    def create_data(self):
        return {"name": "PF", "vip": str(make_vip(self.public()).uuid), "protocol": "TCP", "vip_port_start": 22,
                "vip_port_end": 22}

    def make(self, i):
        return PortForwardingRule.objects.create(
            name=f"PF-{i}", vip=make_vip(self.public(), name=f"VIP-{i}"), protocol="UDP" if i == 1 else "TCP",
            vip_port_start=22, vip_port_end=22, guest_port_start=22, guest_port_end=22, vm_nic=self.nic(i))

    def filters(self):
        rows = [self.make(i) for i in range(3)]
        return [({"protocol": "UDP"}, ["PF-1"]), ({"vip": str(rows[2].vip.uuid)}, ["PF-2"])]


class TestEipAPI(RouterNetworks, ResourceAPITests):
    url = "/api/v1/eips/"
    model = Eip
    kind = "Eip"
    create_expected = {"name": "EIP", "vip_ip": "198.51.100.2", "vm_nic": None}
    update_data = {"description": "db"}
    required_error = {"code": "required", "field": "name", "message": "This field is required."}
    list_queries = 4

    def create_data(self):
        return {"name": "EIP", "vip": str(make_vip(self.public()).uuid)}

    def make(self, i):
        return Eip.objects.create(name=f"EIP-{i}", vip=make_vip(self.public(), name=f"EVIP-{i}"),
                                  vm_nic=self.nic(i) if i else None)

    def filters(self):
        for i in range(3):
            self.make(i)
        return [({"vm_nic__isnull": "true"}, ["EIP-0"]), ({"name": "EIP-2"}, ["EIP-2"])]
