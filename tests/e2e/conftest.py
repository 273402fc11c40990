"""The portal as `make run` starts it (runner, private Redis, uvicorn, a worker), driven by Chromium."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

BASE = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "e2e-Password-41"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def portal():
    """A running portal on a free port with its own var/ directory (and so its own sandbox network), one
    per test module: scenarios 01 and 02 both use eth0 untagged in CLUSTER1. Stopped and removed after."""
    var = Path(tempfile.mkdtemp(prefix="nimbo-e2e-"))
    var.chmod(0o711)  # libvirt's qemu runs as its own user: the storage folders must be reachable by it
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    # The guest image may be a link into another checkout: its real folder is an import directory too.
    image_dirs = [str(BASE / "images"), os.path.dirname(os.path.realpath(BASE / "images" / "nimbo-guest.qcow2"))]
    env.update(NIMBO_VAR_DIR=str(var), NIMBO_PORT=str(port), NIMBO_HOST="127.0.0.1", NIMBO_WORKERS="1",
               NIMBO_ADMIN_PASSWORD=ADMIN_PASSWORD, NIMBO_IMAGE_IMPORT_DIRS=os.pathsep.join(image_dirs))
    log = open(var / "runner.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "portal.runner"], cwd=BASE, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(url + "/login/", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "the portal did not start:\n" + (var / "runner.log").read_text()[-3000:]) from None
                time.sleep(0.3)
        yield {"url": url, "var": var, "password": ADMIN_PASSWORD}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        if os.geteuid() == 0:  # sandbox hosts, guests and routers the run built: removed with its database
            subprocess.run([sys.executable, "-m", "tests.e2e.cleanup"], cwd=BASE, env=env, timeout=120,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(var, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, portal):
    context = browser.new_context(base_url=portal["url"], viewport={"width": 1400, "height": 900})
    page = context.new_page()
    # Every request the browser makes must go to the portal itself: nothing from a CDN or elsewhere.
    page.foreign_requests = []
    own = (portal["url"], portal["url"].replace("http", "ws", 1), "data:", "blob:")
    page.on("request", lambda r: None if r.url.startswith(own) else page.foreign_requests.append(r.url))
    yield page
    context.close()


SCREENSHOTS = BASE / "var" / "screenshots"


def shot(page, name):
    """A full-page screenshot under var/screenshots/, to look at what a person sees."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def login(page, password=ADMIN_PASSWORD, user="admin"):
    page.goto("/login/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("input[type=submit]")
    page.wait_for_url("**/")
