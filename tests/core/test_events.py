"""Every mutating call is a Job and is announced on /ws/events/ to logged-in users."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from apps.core.jobs import start_job
from apps.core.models import Job
from portal.asgi import application
from tests.support.jobs import run_worker

pytestmark = pytest.mark.django_db(transaction=True)


def _login(username="bob"):
    user = get_user_model().objects.create_superuser(username, "", "correct-horse-9")
    client = Client()
    client.force_login(user)
    api = APIClient()
    api.force_login(user)
    return user, client.cookies["sessionid"].value, api


async def _connect(session_key=None, query=""):
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if session_key:
        headers.append((b"cookie", f"sessionid={session_key}".encode()))
    comm = WebsocketCommunicator(application, f"/ws/events/{query}", headers=headers)
    connected, code = await comm.connect()
    return comm, connected, code


async def _events_until(comm, predicate, timeout=10):
    seen = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        event = await comm.receive_json_from(timeout=max(0.1, deadline - loop.time()))
        seen.append(event)
        if predicate(event):
            return seen
    raise AssertionError(f"no matching event; saw {seen}")


async def test_create_zone_is_announced_to_the_logged_in_websocket():
    _, session_key, api = await sync_to_async(_login)()
    comm, connected, _ = await _connect(session_key)
    assert connected
    response = await sync_to_async(api.post)("/api/v1/zones/", {"name": "ZONE1"}, format="json")
    assert response.status_code == 201, response.content
    seen = await _events_until(comm, lambda e: e["job"]["kind"] == "createZone")
    event = seen[-1]
    assert event["message"] == "createZone finished"
    assert event["job"]["state"] == "succeeded"
    assert event["job"]["target_name"] == "ZONE1"
    assert event["job"]["target_id"] == response.json()["uuid"]
    job = await Job.objects.aget(pk=event["job"]["uuid"])
    assert (await sync_to_async(lambda: job.requested_by.username)()) == "bob"
    await comm.disconnect()


async def test_a_refused_call_is_announced_as_failed_with_its_reason():
    _, session_key, api = await sync_to_async(_login)()
    comm, connected, _ = await _connect(session_key)
    assert connected
    await sync_to_async(api.post)("/api/v1/zones/", {"name": "ZONE1"}, format="json")
    response = await sync_to_async(api.post)("/api/v1/zones/", {"name": "ZONE1"}, format="json")
    assert response.status_code == 409
    seen = await _events_until(comm, lambda e: e["job"]["state"] == "failed")
    assert seen[-1]["message"] == "createZone failed: Zone with this Name already exists."
    await comm.disconnect()


async def test_worker_job_pushes_start_progress_and_end():
    """A job run by a real RQ worker (burst) on the real Redis, through the real Channels layer."""
    user, session_key, _ = await sync_to_async(_login)()
    comm, connected, _ = await _connect(session_key)
    assert connected

    def enqueue_and_work():
        import django_rq

        django_rq.get_queue("default").empty()
        job = start_job("countTo", "tests.support.handlers.count_to", user=user, params={"n": 3})
        # start_job enqueues on commit; this test runs in autocommit, so it is on the queue now.
        assert django_rq.get_queue("default").job_ids == [str(job.uuid)]
        run_worker()
        return job

    job = await sync_to_async(enqueue_and_work)()
    seen = await _events_until(comm, lambda e: e["job"]["uuid"] == str(job.uuid) and e["job"]["state"] == "succeeded")
    states = [e["job"]["state"] for e in seen if e["job"]["uuid"] == str(job.uuid)]
    assert states[0] == "queued" and "running" in states and states[-1] == "succeeded"
    assert seen[-1]["message"] == "countTo finished"
    progress = [e["job"]["progress"] for e in seen if e["job"]["state"] == "running"]
    assert progress == sorted(progress) and max(progress) >= 66
    final = await Job.objects.aget(pk=job.uuid)
    assert final.result == {"counted": 3}
    assert [s["name"] for s in final.steps] == ["step 1", "step 2", "step 3"]
    assert all(s["state"] == "done" and s["started"] and s["finished"] for s in final.steps)
    await comm.disconnect()


async def test_websocket_refuses_anonymous_and_bad_tokens():
    comm, connected, code = await _connect()
    assert not connected and code == 4401
    comm, connected, code = await _connect(query="?token=not-a-token")
    assert not connected and code == 4401


async def test_websocket_accepts_an_api_token():
    def make_token():
        from rest_framework.authtoken.models import Token

        user, _, _ = _login("carol")
        return Token.objects.create(user=user).key

    key = await sync_to_async(make_token)()
    comm, connected, _ = await _connect(query=f"?token={key}")
    assert connected
    await comm.disconnect()


def test_event_payload_is_json_serialisable():
    user, _, api = _login()
    api.post("/api/v1/zones/", {"name": "Z"}, format="json")
    job = Job.objects.get(kind="createZone")
    assert json.loads(json.dumps(job.as_event()))["kind"] == "createZone"
