import importlib
import os
import pkgutil
import sys
import time

import django


def main(argv):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    # Like the tests: a scratch state directory and a private Redis, never the portal's own.
    import tempfile

    os.environ.setdefault("NIMBO_VAR_DIR", tempfile.mkdtemp(prefix="nimbo-bench-"))
    if not os.environ.get("REDIS_URL"):
        from tests.support.redis import start_private_redis

        os.environ["REDIS_URL"] = start_private_redis()
    django.setup()
    # Once for the whole run: Django refuses a second call, and several benchmarks need it.
    from django.test.utils import setup_test_environment

    setup_test_environment()
    import benchmarks

    wanted = set(argv)
    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))
    for name in names:
        if wanted and name.removeprefix("bench_") not in wanted:
            continue
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"== {name}: {(module.__doc__ or '').strip().splitlines()[0] if module.__doc__ else ''}", flush=True)
        started = time.perf_counter()
        module.run()
        print(f"   ({time.perf_counter() - started:.1f} s)\n", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
