"""GET /api/v1/vms/<uuid>/console/: a libvirt guest's serial console, read on its host."""

import pytest

from tests.support.api import body
from tests.support.factories import make_vm

pytestmark = pytest.mark.django_db


def test_a_vm_that_never_ran_has_an_empty_console(api):
    vm = make_vm(state="Created")
    assert body(api.get(f"/api/v1/vms/{vm.pk}/console/"), 200) == {"console": ""}


def test_a_namespace_guest_has_no_console(api):
    vm = make_vm(guest_kind="Namespace")
    answer = body(api.get(f"/api/v1/vms/{vm.pk}/console/"), 409)
    assert answer["error"]["field"] == "guest_kind"
    assert answer["error"]["message"] == "A namespace guest has no serial console: log in over SSH."


@pytest.mark.parametrize("size", ["abc", "0", "2000000", "\u00b2"])
def test_the_size_is_checked(api, size):
    vm = make_vm(state="Created")
    answer = body(api.get(f"/api/v1/vms/{vm.pk}/console/?size={size}"), 400)
    assert answer["error"] == {"code": "invalid", "field": "size",
                               "message": "size must be a number of bytes between 1 and 1048576."}
