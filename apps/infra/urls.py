from django.urls import path

from . import wizard

app_name = "infra"
urlpatterns = [
    path("clusters/new/", wizard.cluster_wizard, name="cluster-wizard"),
    path("clusters/<uuid:uuid>/new/storage/", wizard.cluster_wizard_storage, name="cluster-wizard-storage"),
    path("clusters/<uuid:uuid>/new/l2/", wizard.cluster_wizard_l2, name="cluster-wizard-l2"),
]
