"""The virtual router and namespace guests with real packets: DHCP, DNS and SSH inside test namespaces."""

import os
import signal
import subprocess
import time

import pytest

from apps.vrouter.compile import compile_dnsmasq
from tests.support.dataplane import HostNamespace, guest_exec, suffix
from workers.host import guests, links, router

pytestmark = [pytest.mark.root, pytest.mark.slow]

DOMAIN = "tutorials.zstack.org"


def router_spec(host, hosts, sfx):
    name = f"nimbo-vr-{sfx}"
    plan = {
        "state_dir": os.path.join(router.STATE_ROOT, name), "interface": "eth0", "address": "198.51.100.2",
        "netmask": "255.255.255.0", "gateway": "198.51.100.1", "domain": DOMAIN, "dns_servers": ["8.8.8.8"],
        "hosts": hosts,
    }
    return router.RouterSpec(name=name, bridge=host.bridge, leg=f"vr{sfx}", address="198.51.100.2/24",
                             host_netns=host.name, files=compile_dnsmasq(plan))


def guest_spec(host, hostname, mac, key, sfx):
    return guests.NamespaceGuest(
        name=f"nimbo-g-{hostname}-{sfx}", hostname=hostname, host_netns=host.name,
        nics=[guests.GuestNic(dev=f"vn{hostname[:3]}{sfx}", bridge=host.bridge, mac=mac)],
        authorized_keys=key, root_password="password",
    )


def ssh(from_guest, target, key_file, command):
    return guest_exec(
        from_guest, "ssh", "-i", key_file, "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
        f"root@{target}", command,
    )


def lease_expiry(spec, mac):
    with open(spec.path("leases")) as f:
        return next((int(line.split()[0]) for line in f if line.split()[1] == mac), None)


def wait(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def keypair(tmp_path):
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return str(key), (tmp_path / "id_ed25519.pub").read_text()


def test_two_guests_get_leases_resolve_and_ssh_and_router_is_rebuilt(keypair):
    key_file, public_key = keypair
    sfx = suffix()
    entries = [
        {"mac": "fa:16:3e:00:00:30", "ip": "198.51.100.230", "hostname": "inner"},
        {"mac": "fa:16:3e:00:00:31", "ip": "198.51.100.231", "hostname": "outer"},
    ]
    with HostNamespace() as host:
        vr = router_spec(host, entries, sfx)
        inner = guest_spec(host, "inner", entries[0]["mac"], public_key, sfx)
        outer = guest_spec(host, "outer", entries[1]["mac"], public_key, sfx)
        host.on_cleanup(router.destroy_router, vr)
        host.on_cleanup(guests.destroy, inner)
        host.on_cleanup(guests.destroy, outer)

        assert router.ensure_router(vr) == ["namespace", "leg", "dnsmasq"]
        assert router.ensure_router(vr) == []
        guests.start(inner)
        guests.start(outer)
        assert guests.start(inner) == []
        assert guests.wait_for_address(inner) == "198.51.100.230/24"
        assert guests.wait_for_address(outer) == "198.51.100.231/24"
        assert guests.status(inner)["state"] == "Running"

        # The outer guest resolves the inner one through dnsmasq's own entries (upstream unreachable).
        found = guest_exec(outer, "getent", "hosts", f"inner.{DOMAIN}")
        assert found.stdout.split()[0] == "198.51.100.230"
        there = ssh(outer, f"inner.{DOMAIN}", key_file, "hostname; ip -4 -o addr show dev eth0")
        assert there.returncode == 0, there.stderr
        assert there.stdout.splitlines()[0] == "inner"
        assert "198.51.100.230/24" in there.stdout
        # The root password works too (sshpass feeds it to a real ssh client).
        by_password = guest_exec(
            outer, "sshpass", "-p", "password", "ssh", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "PubkeyAuthentication=no", "root@198.51.100.230", "hostname",
        )
        assert by_password.stdout.strip() == "inner", by_password.stderr

        # dnsmasq killed by hand: rebuilt; router namespace deleted by hand: rebuilt, and guests renew.
        os.kill(links.read_pid(vr.path("dnsmasq.pid")), signal.SIGKILL)
        assert wait(lambda: router.router_status(vr)["state"] == "Degraded")
        assert router.ensure_router(vr) == ["dnsmasq"]
        subprocess.run(["ip", "netns", "delete", vr.name], check=True)
        assert router.router_status(vr)["state"] == "Degraded"
        assert router.ensure_router(vr) == ["namespace", "leg", "dnsmasq restarted"]
        before = lease_expiry(vr, entries[0]["mac"])
        time.sleep(1.1)
        guests.renew(inner)
        assert wait(lambda: (lease_expiry(vr, entries[0]["mac"]) or 0) > before)
        assert ssh(outer, "198.51.100.230", key_file, "hostname").stdout.strip() == "inner"

        # Stop and destroy leave nothing behind.
        ssh_pid = links.read_pid(inner.path("sshd.pid"))
        guests.stop(inner)
        assert guests.status(inner)["state"] == "Stopped"
        assert not links.netns_exists(inner.name)
        assert not links.link_exists(inner.nics[0].dev, netns=host.name)
        assert not links.pid_alive(ssh_pid)
        assert os.path.exists(inner.path("ssh_host_ed25519_key"))  # the guest keeps its identity
        guests.destroy(inner)
        assert not os.path.exists(inner.state_dir) and not os.path.exists(inner.etc_dir)
        # The inner NIC goes (its lease was released) and a new one comes: SIGHUP, and names follow.
        vr.files = compile_dnsmasq({**_plan_of(vr), "hosts": entries[1:] + [
            {"mac": "fa:16:3e:00:00:32", "ip": "198.51.100.232", "hostname": "third"}]})
        assert router.ensure_router(vr) == ["dnsmasq reloaded"]
        assert wait(lambda: guest_exec(outer, "getent", "hosts", f"third.{DOMAIN}")
                    .stdout.startswith("198.51.100.232"))
        assert guest_exec(outer, "getent", "hosts", f"inner.{DOMAIN}").returncode != 0
        assert entries[0]["mac"] not in open(vr.path("dhcp-hosts")).read()
        assert entries[0]["mac"] not in {lease["mac"] for lease in router.leases(vr)}

        dnsmasq_pid = links.read_pid(vr.path("dnsmasq.pid"))
        router.destroy_router(vr)
        assert not links.netns_exists(vr.name) and not os.path.exists(vr.state_dir)
        assert not links.link_exists(vr.leg, netns=host.name)
        assert not links.pid_alive(dnsmasq_pid)


def _plan_of(spec):
    return {
        "state_dir": spec.state_dir, "interface": "eth0", "address": "198.51.100.2", "netmask": "255.255.255.0",
        "gateway": "198.51.100.1", "domain": DOMAIN, "dns_servers": ["8.8.8.8"],
    }
