"""Everything that existed before projects goes to the project "default"."""

from django.db import migrations

OWNED = [
    # (app, model, filter of the rows a project owns; the rest stays the cloud admin's)
    ("compute", "VmInstance", {"type": "UserVm"}),
    ("storage", "Volume", {}),
    ("secgroups", "SecurityGroup", {}),
    ("vrouter", "Vip", {"snat": False}),
    ("vrouter", "PortForwardingRule", {}),
    ("vrouter", "Eip", {}),
    ("images", "Image", {"system": False}),
]


def forwards(apps, schema_editor):
    Project = apps.get_model("projects", "Project")
    if not any(apps.get_model(app, model).objects.exists() for app, model, _ in OWNED):
        return  # a new installation: the default project is made when first needed
    project, _ = Project.objects.get_or_create(name="default", defaults={"description": "Resources made before projects."})
    for app, model, where in OWNED:
        apps.get_model(app, model).objects.filter(project__isnull=True, **where).update(project=project)


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0001_initial"),
        ("compute", "0005_vminstance_project"),
        ("storage", "0003_volume_project"),
        ("secgroups", "0003_securitygroup_project"),
        ("vrouter", "0005_eip_project_portforwardingrule_project_vip_project"),
        ("images", "0004_image_project_image_shared"),
        ("networks", "0002_l3network_project_l3network_shared"),
        ("core", "0002_job_project"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
