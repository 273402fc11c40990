"""The fields that put a resource in a project, or share it with every project."""

from django.db import models


def project_field(related_name):
    """The project that owns a resource. Empty for what the cloud admin runs (routers' own VMs and VIPs)."""
    return models.ForeignKey("projects.Project", null=True, blank=True, on_delete=models.PROTECT,
                             related_name=related_name, verbose_name="project")


def shared_field():
    return models.BooleanField(default=False, verbose_name="shared",
                               help_text="Every project may use it (only a cloud admin shares).")
