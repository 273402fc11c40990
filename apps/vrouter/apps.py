from django.apps import AppConfig


class VrouterConfig(AppConfig):
    name = "apps.vrouter"
    label = "vrouter"
    default_auto_field = "django.db.models.BigAutoField"
