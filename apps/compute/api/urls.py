from .views import InstanceOfferingViewSet, VmInstanceViewSet, VmNicViewSet


def register(router):
    router.register("instance-offerings", InstanceOfferingViewSet, basename="instance-offering")
    router.register("vms", VmInstanceViewSet, basename="vm")
    router.register("vm-nics", VmNicViewSet, basename="vm-nic")
