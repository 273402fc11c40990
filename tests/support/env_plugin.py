"""Loaded with -p before pytest-django reads the settings: the tests' own var/ and Redis."""

import os
import tempfile

# Tests never touch the var/ of a running portal: their own state directory and Redis.
os.environ.setdefault("NIMBO_VAR_DIR", tempfile.mkdtemp(prefix="nimbo-test-var-"))
if not os.environ.get("REDIS_URL"):
    from tests.support.redis import start_private_redis

    os.environ["REDIS_URL"] = start_private_redis()
