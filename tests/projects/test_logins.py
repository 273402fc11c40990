"""Failed logins are limited per user name and per client address: 429 with Retry-After, then the
right password works again once the window has passed."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from apps.projects.models import LoginFailure

pytestmark = pytest.mark.django_db
TOKEN = "/api/v1/auth/token/"


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", "", "correct-horse-9")


def _age_failures():
    LoginFailure.objects.update(created=timezone.now() - datetime.timedelta(seconds=301))


def test_the_token_endpoint_stops_a_user_name_after_five_failures(alice):
    api = APIClient()
    for _ in range(5):
        assert api.post(TOKEN, {"username": "alice", "password": "wrong"}, format="json").status_code == 400
    response = api.post(TOKEN, {"username": "alice", "password": "correct-horse-9"}, format="json")
    assert response.status_code == 429
    assert 290 <= int(response["Retry-After"]) <= 300
    assert response.json()["error"]["code"] == "throttled"
    _age_failures()
    response = api.post(TOKEN, {"username": "alice", "password": "correct-horse-9"}, format="json")
    assert response.status_code == 200 and response.json()["token"]


def test_one_address_is_stopped_after_twenty_failures_whatever_the_names(alice):
    api = APIClient()
    for i in range(20):
        assert api.post(TOKEN, {"username": f"guess{i}", "password": "x"}, format="json").status_code == 400
    assert api.post(TOKEN, {"username": "alice", "password": "correct-horse-9"}, format="json").status_code == 429
    other_address = APIClient(REMOTE_ADDR="192.0.2.7")
    assert other_address.post(TOKEN, {"username": "alice", "password": "correct-horse-9"},
                              format="json").status_code == 200


def test_the_login_page_is_limited_too(alice):
    from apps.projects.models import Membership, Project

    Membership.objects.create(user=alice, project=Project.objects.create(name="P"), role="reader")
    page = Client()
    for _ in range(5):
        response = page.post("/login/", {"username": "alice", "password": "wrong"})
        assert response.status_code == 200  # the form again, with its error
    response = page.post("/login/", {"username": "alice", "password": "correct-horse-9"})
    assert response.status_code == 429 and response["Retry-After"]
    _age_failures()
    response = page.post("/login/", {"username": "alice", "password": "correct-horse-9"})
    assert response.status_code == 302  # a reader of a project, not staff: the portal lets her in
