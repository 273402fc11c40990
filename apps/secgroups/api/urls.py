from django.urls import path

from .trace import NicTraceView
from .views import HostFirewallViewSet, NicFirewallView, SecurityGroupRuleViewSet, SecurityGroupViewSet


def register(router):
    router.register("security-groups", SecurityGroupViewSet, basename="security-group")
    router.register("security-group-rules", SecurityGroupRuleViewSet, basename="security-group-rule")
    router.register("host-firewalls", HostFirewallViewSet, basename="host-firewall")


urlpatterns = [
    path("vm-nics/<uuid:nic>/firewall/", NicFirewallView.as_view(), name="vm-nic-firewall"),
    path("vm-nics/<uuid:nic>/trace/", NicTraceView.as_view(), name="vm-nic-trace"),
]
