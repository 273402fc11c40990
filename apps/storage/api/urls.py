from .views import BackupStorageViewSet, PrimaryStorageViewSet, VolumeViewSet


def register(router):
    router.register("primary-storages", PrimaryStorageViewSet, basename="primarystorage")
    router.register("backup-storages", BackupStorageViewSet, basename="backupstorage")
    router.register("volumes", VolumeViewSet, basename="volume")
