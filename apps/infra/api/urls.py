from .views import ClusterViewSet, ZoneViewSet


def register(router):
    router.register("zones", ZoneViewSet, basename="zone")
    router.register("clusters", ClusterViewSet, basename="cluster")
