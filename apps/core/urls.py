from django.urls import path

from . import views

app_name = "core"
urlpatterns = [
    path("jobs/<uuid:uuid>/", views.job_detail, name="job-detail"),
    path("events/", views.recent_events, name="recent-events"),
]
