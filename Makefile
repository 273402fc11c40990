# The two commands: `make run` and `make test`. Everything else is a part of them or a tool.
PY := .venv/bin/python
PYTEST := $(PY) -m pytest

.PHONY: setup run test test-unit test-scenarios bench image clean

setup:
	@scripts/bootstrap.sh

run: setup
	$(PY) -m portal.runner

test: setup
	$(PYTEST) tests

test-unit: setup
	$(PYTEST) tests --ignore=tests/scenarios --ignore=tests/e2e

test-scenarios: setup
	$(PYTEST) tests/scenarios

bench: setup
	$(PY) -m benchmarks

# The guest image (images/nimbo-guest.qcow2) from Debian packages: kernel, busybox, dropbear.
image:
	scripts/build-guest-image.sh

clean:
	rm -rf var/static .pytest_cache
