from django.apps import AppConfig


class ComputeConfig(AppConfig):
    name = "apps.compute"
    label = "compute"
    verbose_name = "Compute"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from apps.infra.realise import register_host_connected_hook

        from .jobs import restore_guests_of_host

        # After the firewall hook (registered by apps.secgroups, listed before this app): a guest comes
        # back behind its rules.
        register_host_connected_hook("Start the guests that run on this host", restore_guests_of_host)
