"""/ws/events/ sends each user only the events of jobs they may see, and only to pages of this portal."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from apps.projects.models import Membership, Project
from portal.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def _people():
    a, b = Project.objects.create(name="PROJECT-A"), Project.objects.create(name="PROJECT-B")
    users = {"admin": get_user_model().objects.create_superuser("root", "", "correct-horse-9")}
    for name, project in (("alice", a), ("bob", b)):
        users[name] = get_user_model().objects.create_user(name, "", "correct-horse-9")
        Membership.objects.create(user=users[name], project=project, role="member")
    sessions, apis = {}, {}
    for name, user in users.items():
        client = Client()
        client.force_login(user)
        sessions[name] = client.cookies["sessionid"].value
        apis[name] = APIClient()
        apis[name].force_login(user)
    return sessions, apis


async def _connect(session_key, origin=b"http://testserver", host=b"testserver"):
    headers = [(b"host", host), (b"cookie", f"sessionid={session_key}".encode())]
    if origin is not None:
        headers.append((b"origin", origin))
    comm = WebsocketCommunicator(application, "/ws/events/", headers=headers)
    connected, code = await comm.connect()
    return comm, connected


async def _kinds_and_targets(comm):
    seen = []
    while not await comm.receive_nothing(timeout=1):  # a quiet second: nothing more is coming
        event = await comm.receive_json_from()
        seen.append((event["job"]["kind"], event["job"]["target_name"]))
    return seen


async def test_a_member_receives_only_their_projects_events_and_the_admin_all():
    sessions, apis = await sync_to_async(_people)()
    sockets = {}
    for name in sessions:
        sockets[name], connected = await _connect(sessions[name])
        assert connected
    for name, group in (("alice", "SG-ALICE"), ("bob", "SG-BOB")):
        response = await sync_to_async(apis[name].post)("/api/v1/security-groups/", {"name": group}, format="json")
        assert response.status_code == 201
    response = await sync_to_async(apis["admin"].post)("/api/v1/zones/", {"name": "ZONE1"}, format="json")
    assert response.status_code == 201
    seen = {name: await _kinds_and_targets(sock) for name, sock in sockets.items()}
    assert seen["alice"] == [("createSecurityGroup", "SG-ALICE")]
    assert seen["bob"] == [("createSecurityGroup", "SG-BOB")]
    assert sorted(seen["admin"]) == [("createSecurityGroup", "SG-ALICE"), ("createSecurityGroup", "SG-BOB"),
                                     ("createZone", "ZONE1")]
    for sock in sockets.values():
        await sock.disconnect()


async def test_a_socket_from_another_sites_page_is_refused_even_with_allowed_hosts_star(settings):
    settings.ALLOWED_HOSTS = ["*"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://nimbo.example.org"]
    sessions, _ = await sync_to_async(_people)()
    comm, connected = await _connect(sessions["alice"], origin=b"https://evil.example.com")
    assert not connected
    comm, connected = await _connect(sessions["alice"], origin=b"http://testserver:8000")  # another port
    assert not connected
    comm, connected = await _connect(sessions["alice"], origin=b"https://nimbo.example.org", host=b"10.0.0.5")
    assert connected
    await comm.disconnect()
    comm, connected = await _connect(sessions["alice"], origin=None)  # not a browser: the login decides
    assert connected
    await comm.disconnect()
