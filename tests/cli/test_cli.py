"""The `nimbo` command-line client against a live server: tables for people, JSON for scripts."""

import json

import pytest
from rest_framework.authtoken.models import Token

from nimbo_cli.main import main
from tests.support.factories import make_zone

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def nimbo(live_server, user, tmp_path, monkeypatch):
    monkeypatch.setattr("nimbo_cli.client.CONFIG", tmp_path / "config.json")
    token = Token.objects.create(user=user).key

    def run(*argv, token=token):
        out, err = [], []
        code = main(["--url", live_server.url, *(["--token", token] if token else []), *argv], out=out.append,
                    err=err.append)
        return code, "\n".join(out), "\n".join(err)

    return run


def test_login_keeps_a_token(nimbo, live_server, tmp_path):
    code, out, _ = nimbo("login", "--username", "alice", "--password", "correct-horse-9", token=None)
    assert code == 0 and out == f"Logged in to {live_server.url} as alice."
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["url"] == live_server.url and Token.objects.get(key=saved["token"]).user.username == "alice"
    assert (tmp_path / "config.json").stat().st_mode & 0o777 == 0o600
    code, _, err = nimbo("login", "--username", "alice", "--password", "nope", token=None)
    assert code == 1 and err == "nimbo: Unable to log in with provided credentials. [HTTP 400]"


def test_create_show_list_delete_zone_as_tables_and_json(nimbo):
    code, out, _ = nimbo("zone", "create", "ZONE1", "--description", "first zone")
    assert code == 0
    lines = out.splitlines()
    assert [c.strip() for c in lines[1].split("|")[1:3]] == ["Field", "Value"]
    rows = {c[1].strip(): c[2].strip() for c in (line.split("|") for line in lines[3:-1])}
    assert rows["name"] == "ZONE1" and rows["description"] == "first zone" and rows["state"] == "Enabled"
    code, out, _ = nimbo("-f", "json", "zone", "show", "ZONE1")
    zone = json.loads(out)
    assert zone["name"] == "ZONE1" and zone["state"] == "Enabled"
    code, out, _ = nimbo("zone", "list")
    assert "| ID " in out and f"| {zone['uuid']} | ZONE1 | Enabled |" in out
    assert nimbo("zone", "delete", "ZONE1")[0] == 0
    assert json.loads(nimbo("-f", "json", "zone", "list")[1]) == []


def test_errors_name_the_field_and_the_reason(nimbo):
    nimbo("zone", "create", "ZONE1")
    code, _, err = nimbo("zone", "create", "ZONE1")
    assert code == 1 and err == "nimbo: Zone with this Name already exists. (field: name) [HTTP 409]"
    code, _, err = nimbo("zone", "show", "NOPE")
    assert code == 1 and err == "nimbo: No zone named or with id 'NOPE'. [HTTP 404]"
    code, _, err = nimbo("instance-offering", "create", "o1", "--set", "cpu_num=0", "--set", "memory_size=512M")
    assert code == 1 and err == "nimbo: Ensure this value is greater than or equal to 1. (field: cpu_num) [HTTP 400]"


def test_set_and_filters(nimbo):
    zone = make_zone(name="ZONE1")
    nimbo("cluster", "create", "CLUSTER1", "--set", f"zone={zone.uuid}", "--set", "hypervisor_type=Sandbox")
    code, out, _ = nimbo("cluster", "set", "CLUSTER1", "--set", "state=Disabled")
    assert code == 0 and any(line.split("|")[1:3] and [c.strip() for c in line.split("|")[1:3]] == ["state", "Disabled"]
                             for line in out.splitlines())
    rows = json.loads(nimbo("-f", "json", "cluster", "list", "--filter", "hypervisor_type=Sandbox")[1])
    assert [r["name"] for r in rows] == ["CLUSTER1"]
    assert json.loads(nimbo("-f", "json", "cluster", "list", "--filter", "hypervisor_type=KVM")[1]) == []


def test_a_bad_token_is_refused(nimbo):
    code, _, err = nimbo("zone", "list", token="bad")
    assert code == 1 and err == "nimbo: Invalid token. [HTTP 401]"


def test_a_member_acts_in_their_project_and_is_refused_infrastructure(nimbo):
    from django.contrib.auth import get_user_model

    from apps.projects.models import Membership, Project

    bob = get_user_model().objects.create_user("bob", "", "correct-horse-9")
    for name, role in (("WEB", "member"), ("OPS", "reader")):
        Membership.objects.create(user=bob, project=Project.objects.create(name=name), role=role)
    token = Token.objects.create(user=bob).key
    code, _, err = nimbo("zone", "create", "ZONE9", token=token)
    assert code == 1 and err.endswith("[HTTP 403]")
    code, _, err = nimbo("--project", "WEB", "security", "group", "create", "web", token=token)
    assert code == 0, err
    code, _, err = nimbo("--project", "OPS", "security", "group", "create", "ops", token=token)
    assert code == 1 and err == "nimbo: You are a reader in project OPS: you cannot change anything. [HTTP 403]"
    code, out, _ = nimbo("--project", "OPS", "-f", "json", "security", "group", "list", token=token)
    assert code == 0 and json.loads(out) == []


def test_virtual_routers_are_listed_shown_rebuilt_and_deleted(nimbo, api):
    """A router reserved by its network's first VM: listed and shown by name; rebuilding one with no host
    and deleting one that still serves a VM are refused with the reason; deleted once the VM is gone."""
    from apps.compute.models import VmInstance
    from apps.vrouter.models import VirtualRouter
    from tests.support.factories import make_cluster, make_host, make_image, make_offering

    cluster = make_cluster()
    zone = str(cluster.zone.uuid)
    l2 = api.post("/api/v1/l2-networks/", {"name": "L2", "zone": zone, "type": "L2NoVlanNetwork",
                                           "physical_interface": "eth0"}, format="json").json()["uuid"]
    l3 = api.post("/api/v1/l3-networks/", {"name": "NET", "l2_network": l2}, format="json").json()["uuid"]
    api.post(f"/api/v1/l3-networks/{l3}/ip-ranges/", {"name": "R", "network_cidr": "10.50.0.0/24"}, format="json")
    api.post(f"/api/v1/l3-networks/{l3}/network-services/", {"services": {"VirtualRouter": ["DHCP"]}}, format="json")
    vm = api.post("/api/v1/vms/", {"name": "A", "instance_offering": str(make_offering().uuid),
                                   "image": str(make_image("img").uuid), "l3_networks": [l3], "start": False},
                  format="json").json()
    code, out, _ = nimbo("virtual-router", "list")
    row = [c.strip() for c in out.splitlines()[3].split("|")[2:-1]]
    assert code == 0 and row == ["vr-NET", "NET", "", "Stopped", "10.50.0.3", ""], out
    code, out, _ = nimbo("-f", "json", "virtual-router", "show", "vr-NET")
    assert json.loads(out)["services"] == ["DHCP"] and json.loads(out)["host"] is None
    code, _, err = nimbo("virtual-router", "action", "vr-NET", "rebuild")
    assert code == 1 and err == "nimbo: Virtual router vr-NET has no host; the next VM on NET boots it. [HTTP 409]"
    host = make_host(cluster)
    code, _, err = nimbo("virtual-router", "action", "vr-NET", "migrate", "--set", f"host={host.uuid}")
    assert code == 1 and err == "nimbo: Virtual router vr-NET has no host; the next VM on NET boots it. [HTTP 409]"
    code, _, err = nimbo("virtual-router", "delete", "vr-NET")
    assert code == 1 and err == ("nimbo: Virtual router vr-NET still serves 1 VM NIC on L3 network NET; rebuild or "
                                 "migrate it instead. [HTTP 409]")
    VmInstance.objects.get(pk=vm["uuid"]).nics.all().delete()
    assert nimbo("virtual-router", "delete", "vr-NET")[0] == 0
    assert not VirtualRouter.objects.exists()


def test_nic_trace_prints_the_path_and_the_deciding_rule(nimbo):
    from apps.infra.models import Cluster, Host
    from apps.secgroups import services
    from tests.support.factories import make_l2, make_l3, make_nic, make_vm

    zone = make_zone()
    cluster = Cluster.objects.create(zone=zone, name="C", hypervisor_type="Sandbox")
    host = Host.objects.create(cluster=cluster, name="H", management_ip="127.0.0.9")
    l3 = make_l3(l2=make_l2(zone=zone), services=["SecurityGroup"], cidr="10.0.0.0/24")
    nic = make_nic(make_vm("VM", zone=zone, host=host), l3, ip="10.0.0.5")
    group = services.create_security_group(name="web")
    services.attach_l3(group, l3)
    services.add_nics(group, [nic])
    rule = services.add_rule(group, protocol=6, port_range_min=22, port_range_max=22, remote_ip_prefix="10.0.0.0/24")
    args = ("nic", "trace", str(nic.pk), "--direction", "ingress", "--protocol", "tcp", "--dst-port", "22",
            "--compiled-only")
    code, out, _ = nimbo(*args, "--src", "10.0.0.9")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[-2] == (f"ACCEPT: allowed by a security group rule (rule {rule.pk} of group web: "
                         "ingress IPv4 tcp port 22 from 10.0.0.0/24)")
    assert [line for line in lines if line.startswith("=>")] == [
        f'=> filter        -A {group_chains_of(group)} -s 10.0.0.0/24 -p tcp -m tcp --dport 22 -m comment '
        f'--comment "r:{rule.pk}" -j ACCEPT  -> matched']
    code, out, _ = nimbo(*args, "--src", "192.0.2.1")
    assert out.splitlines()[-2] == "DROP: no rule allowed it (default drop)"
    code, _, err = nimbo("nic", "trace", str(nic.pk), "--direction", "ingress", "--protocol", "tcp",
                         "--src", "10.0.0.9")
    assert code == 1 and err == "nimbo: A tcp packet needs a destination port. (field: dst_port) [HTTP 400]"


def group_chains_of(group):
    from apps.secgroups.compile import group_chains

    return group_chains(group.pk)[0]


def test_vip_trace_prints_the_router_then_the_nic(nimbo):
    from apps.infra.models import Cluster, Host
    from apps.vrouter.models import PortForwardingRule, VirtualRouter
    from tests.support.factories import make_ip_range, make_l2, make_l3, make_vip, make_vm

    public = make_l3(name="PUBLIC-L3", system=True)
    make_ip_range(public, cidr="198.51.100.0/24")
    private = make_l3(l2=make_l2(public.l2_network.zone, name="PRIVATE-L2", vlan=100), name="PRIVATE-L3",
                      services={"DHCP": "VirtualRouter", "PortForwarding": "VirtualRouter"})
    make_ip_range(private, cidr="10.0.0.0/24")
    cluster = Cluster.objects.create(zone=public.l2_network.zone, name="C", hypervisor_type="Sandbox")
    host = Host.objects.create(cluster=cluster, name="H", management_ip="127.0.0.9")
    nic = make_vm("VM1", l3s=[private], host=host).nics.get()
    VirtualRouter.objects.create(name="vr-private", l3_network=private, public_l3=public, state="Running",
                                 address="10.0.0.1", netmask="255.255.255.0", public_address="198.51.100.9")
    vip = make_vip(public, name="VIP-1")
    PortForwardingRule.objects.create(name="PF1", vip=vip, protocol="TCP", vip_port_start=2222, vip_port_end=2222,
                                      guest_port_start=22, guest_port_end=22, vm_nic=nic)
    code, out, err = nimbo("vip", "trace", "VIP-1", "--protocol", "tcp", "--src", "203.0.113.9", "--dst-port",
                           "2222", "--compiled-only")
    assert code == 0, err
    lines = out.splitlines()
    assert f"   router        DNAT by pf-{str(PortForwardingRule.objects.get().pk)[:8]}: to {nic.ip} port 22" in lines
    assert lines[-1] == (f"VERDICT ACCEPT: translated by pf-{str(PortForwardingRule.objects.get().pk)[:8]} to "
                         f"{nic.ip}; at the NIC: the host filters no NIC: nothing of Nimbo's firewall applies")
