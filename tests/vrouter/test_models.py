"""Router-side models: a VIP's address comes from IPAM, an offering's public L3 defaults to management."""

import pytest

from apps.vrouter.models import PortForwardingRule
from tests.support.factories import make_l3, make_vip, make_vr_offering

pytestmark = pytest.mark.django_db


def test_vip_address_and_offering_defaults():
    public = make_l3(name="PUBLIC", system=True, cidr="198.51.100.0/24")
    vip = make_vip(public)
    assert (vip.ip, vip.gateway, vip.netmask) == ("198.51.100.2", "198.51.100.1", "255.255.255.0")
    offering = make_vr_offering(public, public_l3=None)
    assert offering.public_l3 == public
    rule = PortForwardingRule(name="PF", vip=vip, protocol="TCP", vip_port_start=22, vip_port_end=22)
    rule.full_clean()
    assert (rule.guest_port_start, rule.guest_port_end) == (22, 22)
    rule.save()
    assert vip.uses() == ["PortForwarding"]
