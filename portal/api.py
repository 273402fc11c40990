"""/api/v1/: one router; each app registers its viewsets in its api/urls.py `register(router)`."""

import importlib

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from apps.core.api.views import JobViewSet, api_root
from apps.projects.logins import obtain_auth_token

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("jobs", JobViewSet, basename="job")

API_APPS = ["projects", "infra", "storage", "images", "networks", "secgroups", "compute", "vrouter"]
extra_urls = []
for app in API_APPS:
    try:
        module = importlib.import_module(f"apps.{app}.api.urls")
    except ModuleNotFoundError as exc:
        if exc.name not in (f"apps.{app}.api", f"apps.{app}.api.urls"):
            raise
        continue
    module.register(router)
    extra_urls += getattr(module, "urlpatterns", [])

urlpatterns = [
    path("", api_root, name="api-root"),
    # POST username + password -> {"token": ...}, for the command-line client and scripts.
    path("auth/token/", obtain_auth_token, name="auth-token"),
    *extra_urls,
    path("", include(router.urls)),
]
