"""Input that is well formed but unsafe or absurd is refused with the field named: IP ranges that
are not subnets guests can use, system directories as storage, SSH user names with shell syntax."""

import pytest

from tests.support.api import error
from tests.support.factories import make_l3, make_zone

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("payload, field, words", [
    ({"network_cidr": "0.0.0.0/1"}, "network_cidr", "too large"),
    ({"network_cidr": "10.0.0.0/7"}, "network_cidr", "too large"),
    ({"network_cidr": "127.0.0.0/24"}, "network_cidr", "loopback"),
    ({"network_cidr": "224.0.0.0/24"}, "network_cidr", "multicast"),
    ({"network_cidr": "169.254.0.0/16"}, "network_cidr", "link-local"),
    ({"network_cidr": "240.0.0.0/24"}, "network_cidr", "reserved"),
    ({"start_ip": "0.0.0.2", "end_ip": "0.0.0.9", "netmask": "128.0.0.0", "gateway": "0.0.0.1"}, "netmask",
     "too large"),
    ({"start_ip": "127.0.0.2", "end_ip": "127.0.0.9", "netmask": "255.255.255.0", "gateway": "127.0.0.1"}, "gateway",
     "loopback"),
])
def test_ip_ranges_that_are_no_usable_subnet_are_refused(api, payload, field, words):
    l3 = make_l3()
    reply = error(api.post(f"/api/v1/l3-networks/{l3.uuid}/ip-ranges/", {"name": "R", **payload}), 400)
    assert reply["field"] == field and words in reply["message"]
    assert not l3.ip_ranges.exists()
    assert api.post(f"/api/v1/l3-networks/{l3.uuid}/ip-ranges/", {"name": "R", "network_cidr": "10.0.0.0/8"}
                    ).status_code == 201


@pytest.mark.parametrize("path", ["/", "/tmp/../etc", "//", "/usr/lib/x", "/tmp", "/var/./", "/etc/nimbo", "/root"])
def test_local_storage_refuses_the_root_and_system_directories(api, path):
    zone = make_zone()
    reply = error(api.post("/api/v1/primary-storages/", {"name": "PS", "zone": str(zone.uuid), "type": "LocalStorage",
                                                         "url": path}), 400)
    assert reply["field"] == "url" and "system directory" in reply["message"]
    reply = error(api.post("/api/v1/backup-storages/", {"name": "BS", "type": "Local", "folder": path,
                                                        "zones": [str(zone.uuid)]}), 400)
    assert reply["field"] == "folder" and "system directory" in reply["message"]


def test_local_storage_paths_are_normalised(api, tmp_path):
    zone = make_zone()
    reply = api.post("/api/v1/primary-storages/", {"name": "PS", "zone": str(zone.uuid), "type": "LocalStorage",
                                                   "url": f"/{tmp_path}/a/../ps/"})
    assert reply.status_code == 201, reply.content
    assert reply.json()["url"] == f"{tmp_path}/ps"  # as stored, not as typed
    from apps.storage.models import PrimaryStorage

    assert PrimaryStorage.objects.get().url == f"{tmp_path}/ps"


@pytest.mark.parametrize("username", ["root;id", "root id", "$(reboot)", "-oProxyCommand=x", "a" * 33, "", "r\u00f6ot"])
def test_ssh_user_names_are_checked(api, username):
    from tests.support.factories import make_cluster

    cluster = make_cluster()
    reply = error(api.post("/api/v1/hosts/", {"name": "H", "cluster": str(cluster.uuid),
                                              "management_ip": "198.51.100.9", "username": username,
                                              "password": "pw-123456"}), 400)
    assert reply["field"] == "username"
    reply = error(api.post("/api/v1/backup-storages/", {"name": "BS", "type": "SFTP", "hostname": "198.51.100.9",
                                                        "username": username, "password": "pw", "folder": "/srv/bs",
                                                        "zones": [str(cluster.zone.uuid)]}), 400)
    assert reply["field"] == "username"
