# The two commands: `make run` and `make test`. Everything else is a part of them or a tool.
PY := .venv/bin/python
PYTEST := $(PY) -m pytest

.PHONY: setup run lint test test-unit test-scenarios bench image clean

setup:
	@scripts/bootstrap.sh

run: setup
	$(PY) -m portal.runner

# ruff with the rules in pyproject.toml: about a second.
lint: setup
	$(PY) -m ruff check .

# The tests, then the lint: a long line never hides the tests' results.
test: setup
	$(PYTEST) tests
	$(PY) -m ruff check .

# Neither root nor guests: what a change to the portal, the API or a compiler needs, in a minute or two.
test-unit: setup
	$(PYTEST) tests -m "not root and not slow"
	$(PY) -m ruff check .

test-scenarios: setup
	$(PYTEST) tests/scenarios

bench: setup
	$(PY) -m benchmarks

# The guest image (images/nimbo-guest.qcow2) from Debian packages: kernel, busybox, dropbear.
image:
	scripts/build-guest-image.sh

clean:
	rm -rf var/static .pytest_cache
