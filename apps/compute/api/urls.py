from .views import InstanceOfferingViewSet


def register(router):
    router.register("instance-offerings", InstanceOfferingViewSet, basename="instance-offering")
