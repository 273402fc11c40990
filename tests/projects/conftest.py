"""Two projects, a member of each, a reader, a staff user with no role, and the admin's shared networks."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from apps.projects.models import Membership, Project
from tests.support.factories import make_image, make_l2, make_l3, make_offering, make_vip, make_vm

ROLES = ["admin", "member", "reader", "other", "staff", "anon"]


def make_user(name, **flags):
    return get_user_model().objects.create_user(name, f"{name}@example.org", "correct-horse-9", **flags)


@pytest.fixture
def world(db):
    from apps.secgroups.models import SecurityGroup, SecurityGroupRule

    a, b = Project.objects.create(name="PROJECT-A"), Project.objects.create(name="PROJECT-B")
    users = {
        "admin": get_user_model().objects.create_superuser("root", "root@example.org", "correct-horse-9"),
        "member": make_user("alice"), "reader": make_user("rita"), "other": make_user("bob"),
        "staff": make_user("stella", is_staff=True),
    }
    Membership.objects.create(user=users["member"], project=a, role="member")
    Membership.objects.create(user=users["reader"], project=a, role="reader")
    Membership.objects.create(user=users["other"], project=b, role="member")
    public = make_l3(name="PUBLIC", system=True, cidr="198.51.100.0/24", shared=True)
    private = make_l3(make_l2(public.l2_network.zone, name="PRIVATE-L2", vlan=100), name="PRIVATE",
                      cidr="10.0.0.0/24", services=["DHCP", "DNS", "SNAT", "PortForwarding", "Eip"], shared=True)
    hidden = make_l3(make_l2(public.l2_network.zone, name="HIDDEN-L2", vlan=200), name="HIDDEN", cidr="10.9.0.0/24")
    make_offering()
    make_image(shared=True)
    vm = make_vm(l3s=[private], project=a)
    group = SecurityGroup.objects.create(name="SG-A", project=a)
    rule = SecurityGroupRule.objects.create(security_group=group, protocol=6, port_range_min=22, port_range_max=22)
    group_b = SecurityGroup.objects.create(name="SG-B", project=b)
    from apps.vrouter.models import Eip, PortForwardingRule

    vip = make_vip(public, project=a)
    pf = PortForwardingRule.objects.create(name="PF-A", vip=vip, protocol="TCP", vip_port_start=22, vip_port_end=22,
                                           project=a)
    eip = Eip.objects.create(name="EIP-A", vip=make_vip(public, name="VIP-EIP", project=a), project=a)
    return {"a": a, "b": b, "users": users, "pf": pf, "eip": eip, "public": public, "private": private,
            "hidden": hidden, "vm": vm, "nic": vm.nics.get(), "group": group, "rule": rule, "group_b": group_b,
            "vip": vip, "zone": public.l2_network.zone}


@pytest.fixture
def client_for(world):
    def make(role):
        client = APIClient()
        if role != "anon":
            client.force_login(world["users"][role])
        return client

    return make
