from django.urls import path

from . import views

app_name = "projects"
urlpatterns = [path("project/", views.switch_project, name="switch")]
