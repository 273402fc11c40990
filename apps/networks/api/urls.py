from .views import IpRangeViewSet, L2NetworkViewSet, L3NetworkViewSet


def register(router):
    router.register("l2-networks", L2NetworkViewSet, basename="l2-network")
    router.register("l3-networks", L3NetworkViewSet, basename="l3-network")
    router.register("ip-ranges", IpRangeViewSet, basename="ip-range")
