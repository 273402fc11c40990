"""The portal's admin site: the sidebar and the home page follow the scenarios' order, not the apps'.

A person adds a zone, then a cluster, a host, storage, images, networks, security groups, offerings,
routers, VMs, VIPs, port forwarding and EIPs, and watches jobs: "Cloud" lists them in that order.
Everything else (IP ranges, NICs, volumes, users...) stays grouped by app below it.
"""

from django.urls import reverse

from apps.projects.portal import AccessAdminSite

SCENARIO_ORDER = [
    ("infra", "zone"), ("infra", "cluster"), ("infra", "host"),
    ("storage", "primarystorage"), ("storage", "backupstorage"), ("images", "image"),
    ("networks", "l2network"), ("networks", "l3network"), ("secgroups", "securitygroup"),
    ("compute", "instanceoffering"), ("vrouter", "virtualrouteroffering"), ("vrouter", "virtualrouter"),
    ("compute", "vminstance"), ("vrouter", "vip"), ("vrouter", "portforwardingrule"), ("vrouter", "eip"),
    ("core", "job"),
]
SHORT_NAMES = {("compute", "vminstance"): "Instances", ("vrouter", "virtualrouteroffering"): "VR offerings",
               ("vrouter", "portforwardingrule"): "Port forwarding", ("vrouter", "vip"): "VIPs",
               ("vrouter", "eip"): "EIPs", ("networks", "l2network"): "L2 networks",
               ("networks", "l3network"): "L3 networks"}


class NimboAdminSite(AccessAdminSite):
    site_header = "Nimbo"
    site_title = "Nimbo"
    index_title = "Dashboard"
    index_template = "admin/nimbo_index.html"

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        if app_label:
            return apps
        by_key = {(app["app_label"], model["object_name"].lower()): model for app in apps for model in app["models"]}
        cloud = []
        for key in SCENARIO_ORDER:
            model = by_key.get(key)
            if model is not None:
                cloud.append({**model, "name": SHORT_NAMES.get(key, model["name"])})
        wanted = set(SCENARIO_ORDER)
        rest = []
        for app in apps:
            models = [m for m in app["models"] if (app["app_label"], m["object_name"].lower()) not in wanted]
            if models:
                rest.append({**app, "models": models})
        if not cloud:
            return rest
        head = {"name": "Cloud", "app_label": "cloud", "app_url": reverse("admin:index", current_app=self.name),
                "has_module_perms": True, "models": cloud}
        return [head, *rest]

    def index(self, request, extra_context=None):
        from .dashboard import dashboard

        return super().index(request, {**dashboard(request), **(extra_context or {})})
