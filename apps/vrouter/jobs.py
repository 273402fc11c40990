"""Worker jobs of virtual routers."""

from .routers import reconcile_routers as _reconcile


def reconcile_routers(ctx):
    """Job: re-apply every router's desired state; routers that had drifted are rebuilt and listed."""
    return _reconcile(ctx)


def boot_router(ctx, router):
    """Job: build the router again on its host with its whole state."""
    from .routers import boot_router as _boot

    return _boot(ctx, router)


def migrate_router(ctx, router, host):
    """Job: move the router to another host of its cluster."""
    from .routers import migrate_router as _migrate

    return _migrate(ctx, router, host)
