from django.urls import path

from . import views

app_name = "networks"
urlpatterns = [
    path("l3-wizard/", views.l3_wizard, name="l3-wizard"),
    path("l3-wizard/<uuid:uuid>/", views.l3_wizard_step, name="l3-wizard-step"),
    path("l3-wizard/<uuid:uuid>/<str:step>/", views.l3_wizard_step, name="l3-wizard-post"),
]
