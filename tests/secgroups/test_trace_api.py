"""The packet trace through the API: its verdict checked against a real packet on a sandbox host, the drift
it reports after a chain is edited by hand, and the 400s that name the field."""

import shlex

import pytest
from django.utils.html import escape

from apps.secgroups import services
from apps.secgroups.compile import group_chains, nic_chains
from tests.support.factories import make_l2, make_l3, make_nic, make_vm, make_zone
from tests.support.jobs import run_worker
from tests.support.sgscene import sandbox_scene


def trace(api, nic, **packet):
    response = api.post(f"/api/v1/vm-nics/{nic.pk}/trace/", packet, format="json")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.root
@pytest.mark.django_db(transaction=True)
def test_trace_verdicts_match_real_packets_and_drift_is_reported(api, client, user, rq_queue):
    with sandbox_scene() as scene:
        vm = scene.vm("VM", "198.51.100.10")
        peer = scene.vm("PEER", "198.51.100.11")  # allowed by CIDR
        member = scene.vm("MEM", "198.51.100.12", sshd=False)  # allowed by remote group
        stranger = scene.vm("STR", "198.51.100.13", sshd=False)
        group = services.create_security_group(name="web")
        friends = services.create_security_group(name="friends")
        for g in (group, friends):
            services.attach_l3(g, scene.l3)
        services.add_nics(group, [vm.nic])
        services.add_nics(friends, [member.nic])
        by_cidr = services.add_rule(group, protocol=6, port_range_min=22, port_range_max=22,
                                    remote_ip_prefix="198.51.100.11/32")
        by_group = services.add_rule(group, protocol=6, port_range_min=22, port_range_max=22, remote_group=friends)
        by_icmp = services.add_rule(group, protocol=1, port_range_min=8)
        run_worker()

        def check(source, expected_rule, real, **packet):
            result = trace(api, vm.nic, direction="ingress", src=source.ip, **packet)
            compiled, live = result["compiled"], result["live"]
            verdict = "ACCEPT" if real else "DROP"
            assert compiled["verdict"] == live["verdict"] == verdict, (packet, compiled["reason"])
            assert (compiled["rule"] or {}).get("id") == (str(expected_rule.pk) if expected_rule else None)
            assert result["drift"] == {"chains": [], "sets": [], "verdict_differs": False}
            return result

        ssh = {"protocol": "tcp", "dst_port": 22}
        ok = check(peer, by_cidr, peer.tcp(vm).startswith("SSH-2.0"), **ssh)
        assert ok["compiled"]["rule"]["text"] == "ingress IPv4 tcp port 22 from 198.51.100.11/32"
        assert ok["compiled"]["rule"]["group_name"] == "web"
        grouped = check(member, by_group, member.tcp(vm).startswith("SSH-2.0"), **ssh)
        assert grouped["compiled"]["rule"]["text"].endswith("from members of group friends")
        entered = [s["chain"] for s in grouped["live"]["steps"] if s["kind"] == "chain"]
        assert nic_chains(member.nic.pk)[2] in entered, "the member is filtered on this host too: its egress first"
        dropped = check(stranger, None, stranger.tcp(vm).startswith("SSH-2.0"), **ssh)
        assert dropped["compiled"]["reason"] == "no rule allowed it (default drop)"
        check(stranger, by_icmp, stranger.ping(vm), protocol="icmp", icmp_type=8)
        assert trace(api, vm.nic, direction="ingress", src=stranger.ip, protocol="icmp",
                     icmp_type=13)["compiled"]["verdict"] == "DROP"

        # Established reply: the VM connects out to the peer's sshd; the reply comes in by conntrack.
        assert vm.tcp(peer).startswith("SSH-2.0")
        reply = trace(api, vm.nic, direction="ingress", src=peer.ip, protocol="tcp", src_port=22, dst_port=40000,
                      state="established")
        assert reply["live"]["verdict"] == "ACCEPT" and "ESTABLISHED" in reply["live"]["reason"]
        assert trace(api, vm.nic, direction="ingress", src=peer.ip, protocol="tcp", src_port=22,
                     dst_port=40000)["live"]["verdict"] == "DROP", "the same packet opening a connection"

        # Spoofed source: the VM claims another address.
        spoofed = trace(api, vm.nic, direction="egress", src="198.51.100.99", dst=peer.ip, protocol="icmp")
        assert spoofed["live"]["verdict"] == "DROP" and spoofed["live"]["reason"].startswith("anti-spoofing")
        vm.set_ip("198.51.100.99")
        assert not vm.ping(peer), "the real packet is dropped too"
        vm.set_ip("198.51.100.10")
        assert trace(api, vm.nic, direction="egress", dst=peer.ip, protocol="icmp")["live"]["verdict"] == "ACCEPT"
        assert vm.ping(peer)
        bad_mac = trace(api, vm.nic, direction="egress", dst=peer.ip, protocol="icmp", src_mac="52:54:00:66:66:66")
        assert bad_mac["live"]["verdict"] == "DROP" and "MAC" in bad_mac["live"]["reason"]

        # Packet counters of the rules on the live path: the peer's SSH connection went through its rule.
        steps = [s for s in ok["live"]["steps"] if s.get("rule_id") == str(by_cidr.pk)]
        assert steps and steps[0]["packets"] >= 1

        # The NIC's firewall page: the form, and the path drawn as a list with the deciding rule highlighted.
        client.force_login(user)
        page_url = f"/compute/vminstance/{vm.nic.vm_instance.pk}/nics/{vm.nic.pk}/firewall/"
        query = {"direction": "ingress", "protocol": "tcp", "src": peer.ip, "dst_port": "22"}
        page = client.get(page_url, query).content.decode()
        assert "<strong>ACCEPT</strong>: allowed by a security group rule" in page
        decides = [item for item in page.split("<li ") if "nimbo-decides" in item]
        assert decides and all(f"r:{by_cidr.pk}" in item for item in decides)
        assert "Drift" not in page

        # Someone deletes the CIDR rule from the group's chain by hand.
        gin = group_chains(group.pk)[0]
        line = next(s["rule"] for s in ok["compiled"]["steps"] if s.get("rule_id") == str(by_cidr.pk))
        scene.lab.hrun("iptables", "-w", "-D", *shlex.split(line)[1:])
        drifted = trace(api, vm.nic, direction="ingress", src=peer.ip, **ssh)
        assert drifted["compiled"]["verdict"] == "ACCEPT" and drifted["live"]["verdict"] == "DROP"
        assert not peer.tcp(vm).startswith("SSH-2.0"), "the host drops it, as the live trace says"
        assert drifted["drift"]["verdict_differs"]
        assert drifted["drift"]["chains"] == [{"chain": gin, "missing": [line], "extra": []}]
        page = client.get(page_url, query).content.decode()
        assert "<strong>DROP</strong>: no rule allowed it (default drop)" in page and "As compiled: ACCEPT" in page
        assert "Drift: the host differs from what Nimbo compiled and gives another verdict" in page
        assert f"missing on the host: <code>{escape(line)}</code>" in page


@pytest.mark.django_db
def test_bad_packets_are_400s_naming_the_field(api):
    zone = make_zone()
    l3 = make_l3(l2=make_l2(zone=zone), services=["SecurityGroup"], cidr="10.0.0.0/24")
    nic = make_nic(make_vm("VM", zone=zone), l3, ip="10.0.0.5")
    url = f"/api/v1/vm-nics/{nic.pk}/trace/"
    cases = [
        ({"protocol": "tcp", "src": "10.0.0.9", "dst_port": 22}, "direction"),
        ({"direction": "sideways", "protocol": "tcp", "src": "10.0.0.9", "dst_port": 22}, "direction"),
        ({"direction": "ingress", "protocol": "carrier-pigeon", "src": "10.0.0.9"}, "protocol"),
        ({"direction": "ingress", "protocol": "\u00b2", "src": "10.0.0.9"}, "protocol"),
        ({"direction": "ingress", "protocol": "tcp", "src": "10.0.0.9"}, "dst_port"),
        ({"direction": "ingress", "protocol": "tcp", "dst_port": 22}, "src"),
        ({"direction": "ingress", "protocol": "tcp", "src": "10.0.0.x", "dst_port": 22}, "src"),
        ({"direction": "ingress", "protocol": "tcp", "src": "fd00::1", "dst_port": 22}, "src"),
        ({"direction": "ingress", "protocol": "tcp", "src": "10.0.0.9", "dst_port": 70000}, "dst_port"),
        ({"direction": "ingress", "protocol": "icmp", "src": "10.0.0.9", "dst_port": 22}, "dst_port"),
        ({"direction": "ingress", "protocol": "udp", "src": "10.0.0.9", "dst_port": 53, "icmp_type": 8}, "icmp_type"),
        ({"direction": "egress", "protocol": "icmp", "dst": "10.0.0.9", "src_mac": "nope"}, "src_mac"),
        ({"direction": "ingress", "protocol": "icmp", "src": "10.0.0.9", "state": "half-open"}, "state"),
    ]
    for body, field in cases:
        response = api.post(url, body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert response.json()["error"]["field"] == field, (body, response.json())
    # A NIC on no host and in no group: nothing of Nimbo's firewall filters it.
    ok = api.post(url, {"direction": "ingress", "protocol": "tcp", "src": "10.0.0.9", "dst_port": 22}, format="json")
    assert ok.status_code == 200 and ok.json()["compiled"]["verdict"] == "ACCEPT" and ok.json()["live"] is None
    assert ok.json()["packet"]["dst"] == "10.0.0.5", "ingress goes to the NIC's address by default"

    # The portal's form says the same, next to the field.
    page = api.get(f"/compute/vminstance/{nic.vm_instance.pk}/nics/{nic.pk}/firewall/",
                   {"direction": "ingress", "protocol": "tcp", "src": "10.0.0.9"}).content.decode()
    assert "<li>dst_port: A tcp packet needs a destination port.</li>" in page


@pytest.mark.root
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_trace_page_screenshot(live_server, client, user, rq_queue):
    """The NIC's firewall page tracing a packet a hand edit on the host now drops, as a person sees it in
    Chromium: saved as var/screenshots/packet-trace.png."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS

    with sandbox_scene() as scene:
        vm = scene.vm("VM", "198.51.100.10", sshd=False)
        peer = scene.vm("PEER", "198.51.100.11", sshd=False)
        group = services.create_security_group(name="web")
        services.attach_l3(group, scene.l3)
        services.add_nics(group, [vm.nic])
        services.add_rule(group, protocol=6, port_range_min=80, port_range_max=80)
        rule = services.add_rule(group, protocol=1, port_range_min=8, remote_ip_prefix="198.51.100.0/24")
        run_worker()
        assert peer.ping(vm)
        client.force_login(user)
        url = (f"{live_server.url}/compute/vminstance/{vm.nic.vm_instance.pk}/nics/{vm.nic.pk}/firewall/"
               f"?direction=ingress&protocol=icmp&src={peer.ip}&icmp_type=8")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport={"width": 1400, "height": 900})
                context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                                      "url": live_server.url}])
                page = context.new_page()
                page.goto(url)
                decides = page.locator(".nimbo-decides")
                assert decides.count() >= 1 and f"r:{rule.pk}" in decides.first.inner_text()
                # The rule deleted by hand on the host: the live path drops, the drift is named.
                gin = group_chains(group.pk)[0]
                scene.lab.hrun("iptables", "-w", "-D", gin, "2")
                assert not peer.ping(vm)
                page.reload()
                assert "Drift: the host differs" in page.inner_text("#trace")
                assert "no rule allowed it (default drop)" in page.inner_text(".nimbo-verdict")
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SCREENSHOTS / "packet-trace.png"), full_page=True)
            finally:
                browser.close()
