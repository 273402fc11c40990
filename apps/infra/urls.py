from django.urls import path

from . import wizard

app_name = "infra"
urlpatterns = [
    path("clusters/new/", wizard.cluster_wizard, name="cluster-wizard"),
]
