from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.core.api import fallback

urlpatterns = [
    path("api/v1/", include(("portal.api", "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    re_path(r"^api/", fallback.api_not_found),  # not the admin's login page below
    # The OpenStack client's view: Keystone v3 tokens and Neutron v2.0 security groups (apps/openstack).
    path("openstack/", include("apps.openstack.urls")),
    path("portal/", include("apps.core.urls")),
    path("portal/", include("apps.projects.urls")),
    path("portal/", include("apps.infra.urls")),
    path("portal/networks/", include("apps.networks.urls")),
    path("", admin.site.urls),
]

handler400 = "apps.core.api.fallback.bad_request"
handler403 = "apps.core.api.fallback.permission_denied"
handler404 = "apps.core.api.fallback.page_not_found"
handler500 = "apps.core.api.fallback.server_error"
