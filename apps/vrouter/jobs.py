"""Worker jobs of virtual routers."""

from .routers import reconcile_routers as _reconcile


def reconcile_routers(ctx):
    """Job: re-apply every router's desired state; routers that had drifted are rebuilt and listed."""
    return _reconcile(ctx)
