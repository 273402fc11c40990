import shutil

import pytest


@pytest.fixture
def sandboxes():
    """Sandbox hosts, guests and routers a scenario builds, all removed afterwards (also on failure)."""
    from tests.support.scenario01 import sandboxes as tracked

    with tracked() as tracker:
        yield tracker


@pytest.fixture
def libvirtd():
    """As on a fresh machine, nothing starts libvirtd before the cloud is built: adding the host does
    (its agent). True when it was not running; what the host started is stopped afterwards."""
    from workers.host import domains

    fresh = not domains.libvirt_answers()
    yield fresh
    if fresh:
        domains.stop_daemons(domains.started_daemons())


@pytest.fixture
def guest_key(tmp_path):
    """The image's published test key, readable by its owner only (as ssh demands of a private key)."""
    from apps.infra.guest_image import GUEST_KEY

    path = tmp_path / "nimbo-guest-key"
    shutil.copy(GUEST_KEY, path)
    path.chmod(0o600)
    return path
