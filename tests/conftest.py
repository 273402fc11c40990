import os

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

# The generic resource tests live outside test files: their failed asserts still show both sides.
pytest.register_assert_rewrite("tests.support.resources", "tests.support.api")

from apps.core.jobs import JOB_HANDLERS  # noqa: E402
from tests.support.factories import *  # noqa: E402, F403 - factories are fixtures' building blocks

# The tests' own job handlers (the job runner's tests, a VM's root volume without a VM job).
JOB_HANDLERS.update({"tests.support.handlers.count_to", "tests.storage.handlers.root_volume"})


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.root` is the one way a test says it needs root: without root it is skipped, saying so."""
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root (namespaces, mounts, iptables): run the tests as root")
    for item in items:
        if item.get_closest_marker("root"):
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def session_libvirt():
    """A sandbox host's agent starts libvirtd where nothing runs it (as on a fresh machine): the libvirt
    daemons this session made start are stopped at its end, unless guests still run on them. Yields the
    PIDs of those that ran before the session (not the session's to stop)."""
    from workers.host import domains

    before = frozenset(domains.started_daemons())
    yield before
    domains.stop_daemons([pid for pid in domains.started_daemons() if pid not in before])


@pytest.fixture
def user(db):
    return get_user_model().objects.create_superuser("alice", "alice@example.org", "correct-horse-9")


@pytest.fixture
def api(user):
    """An API client logged in (session) as a superuser."""
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def portal(client, user):
    """A browser-like client logged in to the portal as a superuser."""
    client.force_login(user)
    return client


@pytest.fixture
def anon_api():
    return APIClient()


@pytest.fixture
def jobs_inline(settings):
    """Run queued jobs in-process right after commit instead of on a worker."""
    settings.NIMBO_JOBS_INLINE = True


@pytest.fixture
def rq_queue(settings):
    """The real RQ queue on the test Redis, emptied before and after the test."""
    import django_rq
    from rq.registry import ScheduledJobRegistry

    queue = django_rq.get_queue("default")

    def empty():
        queue.empty()
        scheduled = ScheduledJobRegistry(queue=queue)
        for job_id in scheduled.get_job_ids():
            scheduled.remove(job_id, delete_job=True)

    empty()
    yield queue
    empty()


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """PBKDF2 costs about a second per user created; tests check who may log in, not the hash's strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
