"""In a real browser: log in, change something, see the live toast that ZStack's UI shows."""

import json
import urllib.request

import pytest

from .conftest import login

pytestmark = pytest.mark.slow


def test_login_is_required_and_works(page, portal):
    page.goto("/")
    assert "/login/" in page.url
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "wrong-password")
    page.click("input[type=submit]")
    assert page.locator(".errornote").is_visible()
    login(page)
    assert page.locator("#site-name").inner_text() == "Nimbo"


def test_creating_a_zone_in_the_portal_shows_a_finished_toast(page, portal, tmp_path):
    login(page)
    page.goto("/infra/zone/add/")
    page.fill("input[name=name]", "TOAST-ZONE")  # ZONE1 is scenario 01's, in the same portal
    page.click("input[name=_save]")
    toast = page.locator(".nimbo-toast", has_text="createZone finished")
    toast.wait_for(timeout=10000)
    assert "failed" not in toast.get_attribute("class")
    page.screenshot(path=str(tmp_path / "zone-created.png"))


def _api(portal, method, path, body=None, token=None):
    req = urllib.request.Request(portal["url"] + path, method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"Content-Type": "application/json", "Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_a_call_made_elsewhere_is_pushed_live_to_an_open_page(page, portal):
    """An API client's refused call appears on an already open page, without reloading it."""
    login(page)
    page.goto("/infra/cluster/")
    page.wait_for_function("document.body.dataset.nimboLive === 'ws'", timeout=10000)
    # A token for the API client, made through the portal's own admin.
    page.goto("/authtoken/tokenproxy/add/")
    page.select_option("select[name=user]", label="admin")
    page.click("input[name=_save]")
    token = page.locator("#result_list tbody tr th a, #result_list tbody tr td").first.inner_text().strip()
    page.goto("/infra/cluster/")
    page.wait_for_function("document.body.dataset.nimboLive === 'ws'", timeout=10000)
    status, body = _api(portal, "POST", "/api/v1/zones/", {"name": "LIVE-ZONE"}, token)
    assert status == 201, body
    status, body = _api(portal, "POST", "/api/v1/zones/", {"name": "LIVE-ZONE"}, token)
    assert status == 409 and body["error"]["field"] == "name"
    page.locator(".nimbo-toast.failed", has_text="createZone failed: Zone with this Name already exists.").wait_for(
        timeout=10000)
    assert page.locator(".nimbo-toast", has_text="createZone finished").count() == 1
