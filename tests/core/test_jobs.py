"""The job runner: outcomes, steps, undo on failure, and the jobs API."""


import pytest

from apps.core.jobs import start_job
from apps.core.models import Job
from tests.support.jobs import run_worker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def queue(rq_queue):
    return rq_queue


def test_expected_failure_fails_the_job_with_the_readable_message(queue, user, tmp_path):
    marker = tmp_path / "half-written.img"
    job = start_job("countTo", "tests.support.handlers.count_to", user=user,
                    params={"fail_at": 2, "marker": str(marker)})
    run_worker()
    job.refresh_from_db()
    assert job.state == "failed"
    assert job.error == "step 2 could not reach the host"
    assert job.message == "countTo failed: step 2 could not reach the host"
    assert job.traceback == ""
    assert [s["state"] for s in job.steps] == ["done", "failed"]
    assert not marker.exists(), "the undo action must remove what the failed job wrote"


def test_unexpected_error_keeps_the_traceback(queue, user):
    job = start_job("countTo", "tests.support.handlers.count_to", user=user, params={"crash_at": 1})
    run_worker()
    job.refresh_from_db()
    assert job.state == "failed"
    assert job.error == "Internal error: RuntimeError: boom"
    assert "RuntimeError: boom" in job.traceback


def test_job_is_enqueued_only_after_commit(queue, user):
    from django.db import transaction

    with transaction.atomic():
        job = start_job("countTo", "tests.support.handlers.count_to", user=user)
        assert queue.job_ids == []
    assert queue.job_ids == [str(job.uuid)]


def test_rolled_back_request_enqueues_nothing(queue, user):
    from django.db import transaction

    with pytest.raises(ZeroDivisionError), transaction.atomic():
        start_job("countTo", "tests.support.handlers.count_to", user=user)
        1 / 0  # noqa: B018
    assert queue.job_ids == []
    assert not Job.objects.filter(kind="countTo").exists()


def test_jobs_api_lists_filters_and_shows(api, queue, user):
    api.post("/api/v1/zones/", {"name": "ZONE1"}, format="json")
    api.post("/api/v1/zones/", {"name": "ZONE1"}, format="json")
    start_job("countTo", "tests.support.handlers.count_to", user=user)
    run_worker()
    body = api.get("/api/v1/jobs/").json()
    assert body["count"] == 3
    assert [j["kind"] for j in body["results"]] == ["countTo", "createZone", "createZone"]
    failed = api.get("/api/v1/jobs/", {"state": "failed"}).json()
    assert failed["count"] == 1 and failed["results"][0]["error"] == "Zone with this Name already exists."
    assert api.get("/api/v1/jobs/", {"kind": "countTo"}).json()["count"] == 1
    uuid = body["results"][0]["uuid"]
    detail = api.get(f"/api/v1/jobs/{uuid}/").json()
    assert detail["state"] == "succeeded" and detail["progress"] == 100 and detail["requested_by"] == "alice"
    assert len(detail["steps"]) == 3


def test_job_page_shows_progress_and_steps(client, user, queue):
    client.force_login(user)
    job = start_job("countTo", "tests.support.handlers.count_to", user=user)
    run_worker()
    page = client.get(f"/portal/jobs/{job.uuid}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-state="succeeded"' in html and "step 3" in html and 'aria-valuenow="100"' in html


def test_recent_events_endpoint_is_the_polling_fallback(client, user, api):
    client.force_login(user)
    api.post("/api/v1/zones/", {"name": "ZONE9"}, format="json")
    events = client.get("/portal/events/").json()["events"]
    assert [e["message"] for e in events] == ["createZone finished"]


