import pytest


@pytest.fixture
def sandboxes():
    """Sandbox hosts, guests and routers a scenario builds, all removed afterwards (also on failure)."""
    from tests.support.scenario01 import sandboxes as tracked

    with tracked() as tracker:
        yield tracker
