"""Loaded with -p before pytest-django reads the settings: the tests' own var/ and Redis."""

import os
import tempfile

# Tests never touch the var/ of a running portal: their own state directory and Redis.
os.environ.setdefault("NIMBO_VAR_DIR", tempfile.mkdtemp(prefix="nimbo-test-var-"))
if not os.environ.get("REDIS_URL"):
    from tests.support.redis import start_private_redis

    os.environ["REDIS_URL"] = start_private_redis()

# Test images come from tmp_path folders and loopback HTTP servers; the tests of that policy
# itself (tests/images/test_image_sources.py) put the production defaults back.
os.environ.setdefault("NIMBO_IMAGE_IMPORT_DIRS", os.pathsep.join(
    [os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "images"),
     tempfile.gettempdir()]))
os.environ.setdefault("NIMBO_IMAGE_ALLOW_LOCAL_ADDRESSES", "1")
