"""The network pages of the portal: every changelist and form renders, actions and the L3 wizard
go through the services and show their refusals in the same words."""

import pytest

from apps.core.models import Job
from apps.networks.models import L3Network
from tests.support.factories import (
    make_cluster,
    make_l2,
    make_l3,
    make_vip,
    make_vm,
    make_vr_offering,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    cluster = make_cluster()
    l2 = make_l2(clusters=[cluster])
    public = make_l3(l2, name="PUBLIC", system=True, cidr="198.51.100.0/24")
    private_l2 = make_l2(cluster.zone, name="PRIVATE-L2", vlan=100, clusters=[cluster])
    private = make_l3(private_l2, name="PRIVATE", cidr="10.0.0.0/24", services=["DHCP", "PortForwarding", "Eip"])
    vm = make_vm(l3s=[private])
    vip = make_vip(public)
    make_vr_offering(public)
    return {"cluster": cluster, "l2": l2, "public": public, "private": private, "vm": vm, "vip": vip}


PAGES = ["networks/l2network", "networks/l3network", "networks/iprange", "networks/usedip", "compute/vminstance",
         "compute/vmnic", "vrouter/virtualrouteroffering", "vrouter/vip", "vrouter/portforwardingrule",
         "vrouter/eip"]


# Rows made only by a service elsewhere (IPAM hands out used IPs; VMs and their NICs come from the VM wizard).
NO_ADD_FORM = {"networks/usedip", "compute/vmnic"}


@pytest.mark.parametrize("page", PAGES)
def test_changelists_and_forms_render(portal, world, page):
    assert portal.get(f"/{page}/").status_code == 200
    # L3's Add leads to its wizard: followed, every Add page renders (or is refused where none exists).
    assert portal.get(f"/{page}/add/", follow=True).status_code == (403 if page in NO_ADD_FORM else 200)


def test_change_pages_render(portal, world):
    vm = world["vm"]
    for url in (f"/networks/l2network/{world['l2'].pk}/change/", f"/networks/l3network/{world['private'].pk}/change/",
                f"/compute/vminstance/{vm.pk}/change/", f"/vrouter/vip/{world['vip'].pk}/change/",
                f"/networks/l2network/{world['l2'].pk}/attach/"):
        assert portal.get(url).status_code == 200, url


def test_attach_l2_to_a_cluster_from_the_portal_refuses_in_the_services_words(portal, world):
    other = make_l2(world["cluster"].zone, name="OTHER-ETH0")
    response = portal.post(f"/networks/l2network/{other.pk}/attach/", {"cluster": world["cluster"].pk})
    assert response.status_code == 200
    assert "Cluster CLUSTER1 already has L2 network FLAT-L2 on interface eth0." in response.content.decode()
    free = make_l2(world["cluster"].zone, name="ETH1", interface="eth1")
    assert portal.post(f"/networks/l2network/{free.pk}/attach/", {"cluster": world["cluster"].pk}).status_code == 302
    assert list(free.clusters.all()) == [world["cluster"]]
    assert Job.objects.filter(kind="attachL2NetworkToCluster", state="succeeded").count() == 1


def test_vip_from_the_portal_takes_the_next_free_address(portal, world):
    response = portal.post("/vrouter/vip/add/", {"name": "VIP2", "description": "", "l3_network": world["public"].pk,
                                                 "ip": "", "state": "Enabled"})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert world["public"].vips.get(name="VIP2").ip == "198.51.100.3"


def test_port_forwarding_attach_page_lists_the_attachable_nics(portal, world):
    from apps.vrouter.models import PortForwardingRule

    rule = PortForwardingRule.objects.create(name="PF", vip=world["vip"], protocol="TCP", vip_port_start=22,
                                             vip_port_end=22, guest_port_start=22, guest_port_end=22)
    nic = world["vm"].nics.get()
    page = portal.get(f"/vrouter/portforwardingrule/{rule.pk}/attach/").content.decode()
    assert f"VM1: {nic.ip} (PRIVATE)" in page
    assert portal.post(f"/vrouter/portforwardingrule/{rule.pk}/attach/", {"vm_nic": nic.pk}).status_code == 302
    rule.refresh_from_db()
    assert rule.vm_nic == nic


def test_l3_wizard_creates_and_completes_a_network_with_htmx(portal, world):
    added = portal.get("/networks/l3network/add/")  # one way to make an L3: Add is the wizard
    assert added.status_code == 302 and added["Location"] == "/portal/networks/l3-wizard/"
    page = portal.get("/portal/networks/l3-wizard/")
    assert page.status_code == 200 and 'hx-post="/portal/networks/l3-wizard/"' in page.content.decode()
    assert 'id="nav-sidebar"' in page.content.decode()
    htmx = {"HTTP_HX_REQUEST": "true"}
    created = portal.post("/portal/networks/l3-wizard/", {"name": "FLAT-L3", "l2_network": world["l2"].pk,
                                                          "type": "L3BasicNetwork",
                                                          "dns_domain": "tutorials.zstack.org"}, **htmx)
    assert created.status_code == 200 and "L3 network FLAT-L3" in created.content.decode()
    l3 = L3Network.objects.get(name="FLAT-L3")
    base = f"/portal/networks/l3-wizard/{l3.pk}"
    bad = portal.post(f"{base}/range/", {"name": "R", "method": "range", "start_ip": "198.51.100.240",
                                         "end_ip": "198.51.100.230", "netmask": "255.255.255.0",
                                         "gateway": "198.51.100.1"}, **htmx).content.decode()
    assert "End IP 198.51.100.230 is lower than start IP 198.51.100.240." in bad
    ok = portal.post(f"{base}/range/", {"name": "FLAT-IP-RANGE", "method": "range", "start_ip": "198.51.100.230",
                                        "end_ip": "198.51.100.240", "netmask": "255.255.255.0",
                                        "gateway": "198.51.100.1"}, **htmx).content.decode()
    assert "FLAT-IP-RANGE: 198.51.100.230-198.51.100.240" in ok
    assert "8.8.8.8" in portal.post(f"{base}/dns/", {"dns": "8.8.8.8"}, **htmx).content.decode()
    dup = portal.post(f"{base}/dns/", {"dns": "8.8.8.8"}, **htmx).content.decode()
    assert "DNS server 8.8.8.8 is already on L3 network FLAT-L3." in dup
    done = portal.post(f"{base}/services/", {"VirtualRouter": ["DHCP", "DNS"], "SecurityGroup": ["SecurityGroup"]},
                       **htmx).content.decode()
    assert "DHCP (VirtualRouter)" in done and "SecurityGroup (SecurityGroup)" in done
    assert l3.service_types() == {"DHCP", "DNS", "SecurityGroup"}
    assert l3.dns_addresses() == ["8.8.8.8"] and l3.ip_ranges.get().name == "FLAT-IP-RANGE"


def test_l3_wizard_without_htmx_redirects_between_steps(portal, world):
    response = portal.post("/portal/networks/l3-wizard/", {"name": "N", "l2_network": world["l2"].pk,
                                                           "type": "L3BasicNetwork"})
    l3 = L3Network.objects.get(name="N")
    assert response.status_code == 302 and response["Location"] == f"/portal/networks/l3-wizard/{l3.pk}/"
    cidr = portal.post(f"/portal/networks/l3-wizard/{l3.pk}/range/", {"name": "R", "method": "cidr",
                                                                      "network_cidr": "10.9.0.0/24"})
    assert cidr.status_code == 302
    assert (l3.ip_ranges.get().start_ip, l3.ip_ranges.get().gateway) == ("10.9.0.2", "10.9.0.1")
    assert "10.9.0.2-10.9.0.254" in portal.get(f"/portal/networks/l3-wizard/{l3.pk}/").content.decode()
