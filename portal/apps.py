from django.contrib.admin.apps import AdminConfig


class NimboAdminConfig(AdminConfig):
    default_site = "portal.admin_site.NimboAdminSite"
