"""Nothing is readable without login: API, admin, portal pages, schema, websocket (see test_events)."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url", ["/api/v1/", "/api/v1/zones/", "/api/v1/clusters/", "/api/v1/instance-offerings/", "/api/v1/jobs/",
            "/api/schema/"]
)
def test_api_refuses_anonymous(anon_api, url):
    response = anon_api.get(url, HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_api_refuses_anonymous_writes(anon_api):
    response = anon_api.post("/api/v1/zones/", {"name": "Z"}, format="json")
    assert response.status_code == 401
    from apps.infra.models import Zone

    assert not Zone.objects.exists()


@pytest.mark.parametrize("url", ["/", "/infra/zone/", "/core/job/", "/portal/events/"])
def test_portal_redirects_anonymous_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={url}"


def test_api_docs_refuse_anonymous(client):
    assert client.get("/api/docs/").status_code == 401


def test_login_page_is_served(client):
    response = client.get("/login/", follow=True)
    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_token_authentication(anon_api, user):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=user)
    anon_api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert anon_api.get("/api/v1/zones/").status_code == 200
    anon_api.credentials(HTTP_AUTHORIZATION="Token wrong")
    response = anon_api.get("/api/v1/zones/")
    assert response.status_code == 401 and response.json()["error"]["message"] == "Invalid token."


def test_api_root_schema_and_docs_for_logged_in(api):
    root = api.get("/api/v1/").json()
    assert {"zones", "clusters", "instance-offerings", "jobs"} <= set(root)
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    assert "/api/v1/zones/" in schema.json()["paths"]
    assert api.get("/api/docs/").status_code == 200
