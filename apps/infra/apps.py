from django.apps import AppConfig


class InfraConfig(AppConfig):
    name = "apps.infra"
    label = "infra"
    verbose_name = "Infrastructure"
    default_auto_field = "django.db.models.BigAutoField"
