"""Images come from the import directories and from addresses that are not the node's own."""

import os

import pytest
from django.conf import settings as django_settings

from apps.core.exceptions import JobFailed
from apps.images import download as download_module
from apps.images.models import Image
from tests.support.api import error
from tests.support.factories import make_local_backup_storage
from tests.support.httpserve import http_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def strict(settings, tmp_path):
    """The production policy, with tmp_path/import as the one import directory."""
    (tmp_path / "import").mkdir()
    settings.NIMBO_IMAGE_IMPORT_DIRS = [tmp_path / "import"]
    settings.NIMBO_IMAGE_ALLOW_LOCAL_ADDRESSES = False
    return tmp_path / "import"


def add(api, tmp_path, url):
    from apps.storage.models import BackupStorage

    storage = BackupStorage.objects.first() or make_local_backup_storage(folder=str(tmp_path / "bs"))
    return api.post("/api/v1/images/", {"name": "img", "url": url, "format": "qcow2",
                                        "backup_storages": [str(storage.uuid)]})


@pytest.mark.parametrize("url", [
    "file:///etc/shadow", "/root/.ssh/id_rsa", "SECRET", "IMPORT/../../etc/passwd", "file://IMPORT/%2e%2e/x",
    "http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:8000/x.qcow2", "http://localhost/x.qcow2",
    "http://[::1]/x.qcow2", "http://[::ffff:127.0.0.1]/x.qcow2", "https://[fe80::1]/x.qcow2",
    "http://0.0.0.0/x.qcow2", "http://[fd00:ec2::254]/x"])
def test_unsafe_sources_are_refused_with_the_field_named(api, strict, tmp_path, url):
    url = url.replace("SECRET", str(django_settings.VAR_DIR / "secret_key")).replace("IMPORT", str(strict))
    reply = error(add(api, tmp_path, url), 400)
    assert reply["field"] == "url" and ("outside" in reply["message"] or "not fetched" in reply["message"])
    assert not Image.objects.exists()


def test_a_symbolic_link_out_of_an_import_directory_is_refused(api, strict, tmp_path):
    os.symlink("/etc/passwd", strict / "passwd.qcow2")
    assert error(add(api, tmp_path, str(strict / "passwd.qcow2")), 400)["field"] == "url"


def test_files_in_an_import_directory_and_public_addresses_are_accepted(api, strict, tmp_path):
    (strict / "disk.qcow2").write_bytes(b"x")
    assert add(api, tmp_path, str(strict / "disk.qcow2")).status_code == 202
    Image.objects.all().delete()
    assert add(api, tmp_path, f"file://{strict}/disk.qcow2").status_code == 202
    Image.objects.all().delete()
    assert add(api, tmp_path, "http://198.51.100.7/disk.qcow2").status_code == 202


def test_the_default_import_directory_is_the_projects_images():
    from portal import settings as module

    if "NIMBO_IMAGE_IMPORT_DIRS" in os.environ:  # the test session widens it; the module's rule is what counts
        saved = os.environ.pop("NIMBO_IMAGE_IMPORT_DIRS")
        try:
            import importlib

            fresh = importlib.reload(module)
            assert fresh.NIMBO_IMAGE_IMPORT_DIRS == [fresh.BASE_DIR / "images"]
        finally:
            os.environ["NIMBO_IMAGE_IMPORT_DIRS"] = saved
            importlib.reload(module)


def test_the_download_refuses_a_name_that_resolves_to_loopback_and_a_redirect_to_metadata(strict, tmp_path):
    import urllib.request

    with pytest.raises(JobFailed, match="loopback"):
        download_module.download("http://localhost.:1/x", tmp_path / "out")
    with pytest.raises(JobFailed, match="outside"):
        download_module.download(str(django_settings.VAR_DIR / "secret_key"), tmp_path / "out")
    redirects = download_module._CheckedRedirects()
    request = urllib.request.Request("http://198.51.100.7/disk.qcow2")
    with pytest.raises(JobFailed, match="metadata"):
        redirects.redirect_request(request, None, 302, "Found", {}, "http://169.254.169.254/latest/")
    with pytest.raises(JobFailed, match="not http"):
        redirects.redirect_request(request, None, 302, "Found", {}, "file:///etc/shadow")
    assert redirects.redirect_request(request, None, 302, "Found", {}, "http://198.51.100.8/d.qcow2").full_url == (
        "http://198.51.100.8/d.qcow2")
    assert not (tmp_path / "out").exists()


def test_a_loopback_mirror_is_served_when_the_setting_allows_it(settings, tmp_path):
    settings.NIMBO_IMAGE_ALLOW_LOCAL_ADDRESSES = True
    www = tmp_path / "www"
    www.mkdir()
    (www / "disk.qcow2").write_bytes(b"data")
    with http_server(www) as base:
        assert download_module.download(f"{base}/disk.qcow2", tmp_path / "out")["size"] == 4
