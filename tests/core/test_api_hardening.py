"""Bad input of any shape answers 400 (or 404/413) in the error shape, never a 500 or HTML."""

import json
import logging

import pytest
from rest_framework.test import APIClient

from apps.infra.models import Zone
from tests.support.api import error
from tests.support.factories import make_l3, make_zone

pytestmark = pytest.mark.django_db


def raw(api, url, text, method="post"):
    return getattr(api, method)(url, data=text, content_type="application/json")


@pytest.mark.parametrize("text, kind", [("null", "null"), ('"AAA"', "a string"), ("0", "a number"),
                                        ("false", "a boolean"), ("[null,null]", "an array")])
def test_a_body_that_is_not_an_object_is_refused(api, text, kind):
    l3 = make_l3()
    assert error(raw(api, f"/api/v1/l3-networks/{l3.uuid}/network-services/", text), 400) == {
        "code": "parse_error", "field": None, "message": f"The body must be a JSON object, not {kind}."}


def test_a_deeply_nested_body_is_refused(api):
    deep = "[" * 100_000 + "]" * 100_000
    assert error(raw(api, "/api/v1/zones/", '{"name": ' + deep + "}"), 400)["code"] == "parse_error"
    moderate = {"name": "Z"}
    for _ in range(40):
        moderate = {"a": moderate}
    assert error(raw(api, "/api/v1/zones/", json.dumps(moderate)), 400)["code"] == "parse_error"
    assert not Zone.objects.exists()


def test_nul_and_escape_are_refused_with_the_field_named_and_not_echoed(api):
    l3 = make_l3()
    reply = error(raw(api, f"/api/v1/l3-networks/{l3.uuid}/network-services/",
                      '{"services":{"VirtualRouter":["DHCP\\u0000"]}}'), 400)
    assert reply == {"code": "parse_error", "field": "services.VirtualRouter[0]",
                     "message": "Control characters (NUL, ESC...) are not allowed."}
    assert error(raw(api, "/api/v1/zones/", '{"name": "Z\\u001b[31mRED"}'), 400)["field"] == "name"
    assert error(raw(api, "/api/v1/zones/", '{"na\\u0000me": "Z"}'), 400)["code"] == "parse_error"
    # A description keeps its line breaks.
    assert api.post("/api/v1/zones/", {"name": "Z", "description": "two\nlines\tand a tab"}).status_code == 201


def test_the_models_refuse_control_characters_whatever_the_entry_point():
    from django.core.exceptions import ValidationError

    zone = Zone(name="Z\x1b]0;pwned\x07")
    with pytest.raises(ValidationError) as caught:
        zone.full_clean()
    assert caught.value.message_dict == {"name": ["Control characters (NUL, ESC...) are not allowed."]}
    Zone(name="Z", description="multi\nline").full_clean()


def test_unknown_api_paths_and_huge_bodies_answer_json(api):
    reply = api.get("/api/v1/no-such-thing/")
    assert reply.status_code == 404 and reply["Content-Type"] == "application/json"
    assert reply.json()["error"]["code"] == "not_found"
    assert APIClient().get("/api/nothing/here/").status_code == 404
    assert api.get("/api/v1/zones").status_code == 301  # the slash redirect still works for GET
    big = json.dumps({"name": "Z", "description": "x" * (5 * 1024 * 1024)})
    reply = raw(api, "/api/v1/zones/", big)
    assert reply.status_code == 413 and reply.json()["error"]["code"] == "too_large"


def test_form_bodies_are_refused_as_unsupported(api):
    reply = api.post("/api/v1/zones/", "name=Z", content_type="application/x-www-form-urlencoded")
    assert reply.status_code == 415 and reply.json()["error"]["code"] == "unsupported_media_type"


def test_events_refuse_an_impossible_since(admin_client):
    reply = admin_client.get("/portal/events/?since=2026-13-45T10:00:00")
    assert reply.status_code == 400 and reply.json()["error"]["field"] == "since"
    assert admin_client.get("/portal/events/?since=2026-01-31T10:00:00Z").status_code == 200


def test_a_crash_answers_json_and_its_traceback_reaches_the_log(api, monkeypatch, settings):
    settings.DEBUG = False
    from apps.infra.api.views import ZoneViewSet

    def crash(self, request, *args, **kwargs):
        raise RuntimeError("boom in list")

    monkeypatch.setattr(ZoneViewSet, "list", crash)
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        api.raise_request_exception = False
        reply = api.get("/api/v1/zones/")
    finally:
        logger.removeHandler(handler)
    assert reply.status_code == 500 and reply.json()["error"]["code"] == "server_error"
    assert records and records[0].exc_info[1].args == ("boom in list",)
    # And the configured handler prints it without DEBUG (Django's own one filters on DEBUG).
    configured = [h for h in logger.handlers if h is not handler]
    assert configured and not any(f for h in configured for f in h.filters)
    make_zone()  # the database is still usable after the crash
