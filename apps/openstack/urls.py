"""/openstack/identity/ (Keystone v3) and /openstack/network/ (Neutron v2.0): the OpenStack client's view."""

from django.urls import path, re_path

from . import identity, network

app_name = "openstack"

urlpatterns = [
    path("identity/", identity.versions, name="identity-root"),
    path("identity/v3/", identity.version_v3, name="identity-v3"),
    re_path(r"^identity/v3$", identity.version_v3),
    re_path(r"^identity/v3/auth/tokens/?$", identity.auth_tokens, name="identity-auth-tokens"),
    path("network/", network.versions, name="network-root"),
    path("network/v2.0/", network.version_v2, name="network-v2"),
    re_path(r"^network/v2\.0$", network.version_v2),
    re_path(r"^network/v2\.0/security-groups(?:\.json)?/?$", network.security_groups, name="security-groups"),
    re_path(r"^network/v2\.0/security-groups/(?P<group_id>[^/]+?)(?:\.json)?/?$", network.security_group,
            name="security-group"),
    re_path(r"^network/v2\.0/security-group-rules(?:\.json)?/?$", network.security_group_rules,
            name="security-group-rules"),
    re_path(r"^network/v2\.0/security-group-rules/(?P<rule_id>[^/]+?)(?:\.json)?/?$", network.security_group_rule,
            name="security-group-rule"),
    # What is not here answers in each service's own error shape (not the portal's HTML page).
    re_path(r"^identity/", identity.not_found),
    re_path(r"^network/", network.not_found),
]
