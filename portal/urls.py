from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.core import views as core_views

urlpatterns = [
    path("api/v1/", include(("portal.api", "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("portal/", include("apps.core.urls")),
    path("portal/", include("apps.infra.urls")),
    path("portal/networks/", include("apps.networks.urls")),
    path("", admin.site.urls),
]
