from .views import ImageViewSet


def register(router):
    router.register("images", ImageViewSet, basename="image")
