from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "apps.projects"
    label = "projects"
    verbose_name = "Projects and access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import logins  # noqa: F401 - connects the failed-login recorder

        _scope_related_fields()


def _scope_related_fields():
    """Every related field of every API input names only rows the request may use: a VM cannot be
    put on another project's L3 network, a NIC cannot join another project's group. DRF resolves
    such fields through RelatedField.get_queryset(); it is narrowed here, once, for all serializers
    (including those a view builds itself), with the current request's Access."""
    from django.db.models import QuerySet
    from rest_framework.relations import RelatedField

    from .access import CURRENT

    original = RelatedField.get_queryset
    if getattr(original, "nimbo_scoped", False):
        return

    def get_queryset(self):
        queryset = original(self)
        access = CURRENT.get()
        if access is not None and isinstance(queryset, QuerySet):
            queryset = access.usable(queryset)
        return queryset

    get_queryset.nimbo_scoped = True
    RelatedField.get_queryset = get_queryset
