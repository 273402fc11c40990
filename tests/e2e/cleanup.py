"""Remove what a portal run built on this machine (guests, routers, sandbox hosts, its switch).

Run with the portal's NIMBO_VAR_DIR once the portal has stopped: `python -m tests.e2e.cleanup`.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django

django.setup()

from tests.support.scenario01 import sandboxes  # noqa: E402

if __name__ == "__main__":
    with sandboxes():
        pass
