from django.apps import AppConfig


class OpenstackConfig(AppConfig):
    """The OpenStack client's view of Nimbo: Keystone v3 (tokens) and Neutron v2.0 (security groups)."""

    name = "apps.openstack"
    label = "openstack"
    default_auto_field = "django.db.models.BigAutoField"
