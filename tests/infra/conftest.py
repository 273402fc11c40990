import pytest

from apps.infra import sandbox
from tests.support.sandbox import SandboxTracker


@pytest.fixture(scope="session")
def sandbox_phys():
    """The session's sandbox physical network (its name follows the session's own var/)."""
    yield sandbox.phys_netns()
    sandbox.destroy_phys()


@pytest.fixture
def sandboxes(sandbox_phys):
    tracker = SandboxTracker()
    yield tracker
    tracker.cleanup()
