from .views import ProjectViewSet


def register(router):
    router.register("projects", ProjectViewSet, basename="project")
