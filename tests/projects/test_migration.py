"""What existed before projects goes to the project "default"; what the admin runs stays the admin's."""

import importlib

import pytest
from django.apps import apps

from apps.projects.models import Project
from apps.secgroups.models import SecurityGroup
from tests.support.factories import make_image, make_l3, make_vip, make_vm

pytestmark = pytest.mark.django_db
migration = importlib.import_module("apps.projects.migrations.0002_default_project")


def test_existing_resources_go_to_the_default_project():
    l3 = make_l3(cidr="10.0.0.0/24")
    vm = make_vm(l3s=[l3])
    router_vm = make_vm("VR", l3s=[], zone=vm.zone, type="ApplianceVm", image=None, instance_offering=None)
    group = SecurityGroup.objects.create(name="SG")
    vip, snat = make_vip(l3), make_vip(l3, name="SNAT", snat=True)
    system_image = make_image("VIRTUAL-ROUTER", system=True)
    migration.forwards(apps, None)
    default = Project.objects.get(name="default")
    for obj in (vm, group, vip, vm.image):
        obj.refresh_from_db()
        assert obj.project == default, obj
    for obj in (router_vm, snat, system_image, l3):
        obj.refresh_from_db()
        assert obj.project is None, obj


def test_a_new_installation_gets_no_project_until_one_is_needed():
    migration.forwards(apps, None)
    assert not Project.objects.exists()
