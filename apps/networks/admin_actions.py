"""Moved to apps.core.admin_actions (it serves every app); apps.vrouter.admin still imports it from here."""

from apps.core.admin_actions import ObjectActionAdmin  # noqa: F401
