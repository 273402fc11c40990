from .views import ClusterViewSet, HostViewSet, ZoneViewSet


def register(router):
    router.register("zones", ZoneViewSet, basename="zone")
    router.register("clusters", ClusterViewSet, basename="cluster")
    router.register("hosts", HostViewSet, basename="host")
