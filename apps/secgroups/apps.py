from django.apps import AppConfig


class SecgroupsConfig(AppConfig):
    name = "apps.secgroups"
    label = "secgroups"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from apps.infra.realise import register_host_connected_hook

        from .sync import sync_for_host

        # A host that (re)connects gets its firewall converged to the database at once.
        register_host_connected_hook("Sync the security group firewall", sync_for_host)
