from django.urls import path

from .routers import VirtualRouterViewSet
from .trace import VipTraceView
from .views import EipViewSet, PortForwardingRuleViewSet, VipViewSet, VirtualRouterOfferingViewSet


def register(router):
    router.register("virtual-router-offerings", VirtualRouterOfferingViewSet, basename="virtual-router-offering")
    router.register("vips", VipViewSet, basename="vip")
    router.register("port-forwarding-rules", PortForwardingRuleViewSet, basename="port-forwarding-rule")
    router.register("eips", EipViewSet, basename="eip")
    router.register("virtual-routers", VirtualRouterViewSet, basename="virtual-router")


urlpatterns = [
    path("vips/<uuid:vip>/trace/", VipTraceView.as_view(), name="vip-trace"),
]
