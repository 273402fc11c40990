from django.apps import AppConfig


class SecgroupsConfig(AppConfig):
    name = "apps.secgroups"
    label = "secgroups"
    default_auto_field = "django.db.models.BigAutoField"
