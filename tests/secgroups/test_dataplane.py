"""Security groups with real packets: a sandbox host namespace with a bridge, guest namespaces
running sshd, the compiled plan applied by the host agent's firewall."""

import uuid

import pytest

from apps.secgroups.compile import (HostState, Nic, Rule, Scope, compile_host, group_chains, ipset_name, l2_chain,
                                    nic_chains)
from tests.support.sglab import Lab, arp_probe, neighbour, send_arp, session_echo
from workers.host import firewall

pytestmark = pytest.mark.root

TCP, ICMP = 6, 1


def egress_defaults(gid):
    return [Rule(f"{gid}-e4", "egress", "IPv4"), Rule(f"{gid}-e6", "egress", "IPv6")]


class Sandbox:
    """The desired state of the lab host, edited by tests and applied like the sync job does."""

    def __init__(self, lab):
        self.lab = lab
        self.nics = {}
        self.rules = {}
        self.members = {}

    def nic(self, guest, *groups):
        guest.nic_id = guest.__dict__.get("nic_id") or str(uuid.uuid4())
        self.nics[guest.name] = (guest, groups)

    def group(self, gid, *rules, defaults=True):
        self.rules[gid] = (egress_defaults(gid) if defaults else []) + list(rules)

    def plan(self, scope=None):
        nics = [Nic(g.nic_id, g.device, g.mac, (g.ip,), groups) for g, groups in self.nics.values()]
        return compile_host(HostState(nics=nics, rules=self.rules, members=self.members), scope)

    def apply(self, scope=None):
        """The whole host, or (like the sync job) only what `scope` touched."""
        return firewall.apply_plan(self.plan(scope), self.lab.host)


@pytest.fixture
def lab():
    with Lab() as lab:
        yield lab


def test_default_deny_ingress_allow_egress_icmp_and_cidr_rules(lab):
    vm = lab.guest("vm", "10.0.0.2")
    inside = lab.guest("in", "10.0.0.3")
    outside = lab.guest("out", "10.0.0.4", sshd=False)
    box = Sandbox(lab)
    box.group("web")
    box.nic(vm, "web")
    box.nic(inside)  # in no group: never filtered
    box.apply()
    assert not inside.ping(vm), "ingress is dropped by default"
    assert vm.ping(inside), "egress is allowed, and its replies come back"
    assert inside.tcp(vm) == "" and vm.tcp(inside).startswith("SSH-2.0-OpenSSH")

    box.group("web", Rule("icmp", "ingress", "IPv4", ICMP, -1, -1))
    result = box.apply()
    assert result["chains"] == [group_chains("web")[0]], "only the group's ingress rules chain is rewritten"
    assert inside.ping(vm) and outside.ping(vm)
    assert inside.tcp(vm) == "", "nothing else gets in"

    box.group("web", Rule("icmp", "ingress", "IPv4", ICMP, -1, -1),
              Rule("ssh", "ingress", "IPv4", TCP, 22, 22, remote_ip_prefix="10.0.0.3/32"))
    box.apply()
    assert inside.tcp(vm).startswith("SSH-2.0-OpenSSH")
    assert outside.tcp(vm) == ""
    assert "10.0.0.2/24" in inside.ssh(vm).stdout, "the session lands on the VM"

    # The operator's view: the NIC's three chains, read back from the host.
    live = firewall.read_back(lab.host, vm.nic_id)
    gin = group_chains("web")[0]
    assert f'-A {gin} -s 10.0.0.3/32 -p tcp -m tcp --dport 22 -m comment --comment "r:ssh" -j ACCEPT' in live["v4"]
    assert live["v4"][0] == f"-N {nic_chains(vm.nic_id)[0]}"

    # Applying the same plan again changes nothing.
    assert box.apply() == {"chains": [], "sets": [], "conntrack_deleted": 0}


def test_a_guest_that_changes_its_ip_or_mac_gets_nothing_through(lab):
    vm = lab.guest("vm", "10.0.0.2", sshd=False)
    peer = lab.guest("peer", "10.0.0.3", sshd=False)
    box = Sandbox(lab)
    box.group("g")
    box.nic(vm, "g")
    box.nic(peer)
    box.apply()
    assert vm.ping(peer)
    vm.set_ip("10.0.0.9")
    assert not vm.ping(peer), "a foreign source IP is dropped"
    vm.set_ip("10.0.0.2")
    assert vm.ping(peer)
    vm.set_mac("52:54:00:66:66:66")
    assert not vm.ping(peer), "a foreign source MAC is dropped"


def test_deleting_the_rule_cuts_an_open_session_and_adding_it_back_restores_access(lab):
    vm = lab.guest("vm", "10.0.0.2")
    client = lab.guest("cl", "10.0.0.3", sshd=False)
    box = Sandbox(lab)
    ssh_rule = Rule("ssh", "ingress", "IPv4", TCP, 22, 22)
    box.group("g", ssh_rule)
    box.nic(vm, "g")
    box.apply()
    session = client.open_session(vm)
    try:
        assert session_echo(session, "one", timeout=8)
        box.group("g")
        result = box.apply()
        assert result["conntrack_deleted"] >= 1
        assert not session_echo(session, "two"), "the open session does not outlive the rule"
        assert client.tcp(vm) == ""
    finally:
        session.kill()
        session.wait()
    box.group("g", ssh_rule)
    box.apply()
    assert client.tcp(vm).startswith("SSH-2.0-OpenSSH")


def test_remote_group_membership_changes_rewrite_only_the_set(lab):
    vm = lab.guest("vm", "10.0.0.2")
    member = lab.guest("mem", "10.0.0.3", sshd=False)  # a member of group A on another host
    stranger = lab.guest("str", "10.0.0.4", sshd=False)
    box = Sandbox(lab)
    box.group("A")
    box.group("T", Rule("from-a", "ingress", "IPv4", TCP, 22, 22, remote_group_id="A"))
    box.nic(vm, "T")
    box.members = {"A": ["10.0.0.3"], "T": ["10.0.0.2"]}
    box.apply()
    assert member.tcp(vm).startswith("SSH-2.0-OpenSSH")
    assert stranger.tcp(vm) == ""
    session = member.open_session(vm)
    try:
        assert session_echo(session, "one", timeout=8)
        box.members = {"A": [], "T": ["10.0.0.2"]}
        result = box.apply()
        assert result["chains"] == [] and result["sets"] == [ipset_name("A", "v4")]
        assert not session_echo(session, "two"), "leaving A cuts the open session at once"
    finally:
        session.kill()
        session.wait()
    assert member.tcp(vm) == ""


def test_drift_is_repaired_and_counted(lab):
    vm = lab.guest("vm", "10.0.0.2", sshd=False)
    peer = lab.guest("peer", "10.0.0.3", sshd=False)
    box = Sandbox(lab)
    box.group("g", Rule("icmp", "ingress", "IPv4", ICMP))
    box.nic(vm, "g")
    box.apply()
    assert peer.ping(vm)
    ingress = nic_chains(vm.nic_id)[0]
    lab.hrun("iptables", "-w", "-D", "nimbo-in", "-m", "physdev", "--physdev-out", vm.device,
             "--physdev-is-bridged", "-j", ingress)
    lab.hrun("iptables", "-w", "-F", ingress)
    lab.hrun("iptables", "-w", "-X", ingress)
    planned = len(box.plan()["v4"]["chains"][ingress])
    result = firewall.reconcile(box.plan(), lab.host)
    assert result["repaired"] == planned + 1
    assert result["drifted_chains"] == sorted([ingress, "nimbo-in"])
    assert peer.ping(vm)
    assert firewall.reconcile(box.plan(), lab.host)["repaired"] == 0


def test_removing_every_group_leaves_nothing_behind(lab):
    vm = lab.guest("vm", "10.0.0.2", sshd=False)
    box = Sandbox(lab)
    box.group("g", Rule("r", "ingress", "IPv4", TCP, 22, 22, remote_group_id="g"))
    box.members = {"g": ["10.0.0.2"]}
    box.nic(vm, "g")
    box.apply()
    box.nic(vm)
    box.apply()
    saved = (lab.hrun("iptables-save").stdout + lab.hrun("ip6tables-save").stdout + lab.hrun("ipset", "save").stdout
             + lab.hrun("ebtables-save", "-t", "nat").stdout)
    assert "nimbo" not in saved


def test_two_filtered_nics_on_one_host_both_have_their_say(lab):
    client = lab.guest("cl", "10.0.0.2", sshd=False)
    server = lab.guest("srv", "10.0.0.3")
    box = Sandbox(lab)
    box.group("client", Rule("out-ssh", "egress", "IPv4", TCP, 22, 22), defaults=False)
    box.group("server", Rule("in-ssh", "ingress", "IPv4", TCP, 22, 22), Rule("in-icmp", "ingress", "IPv4", ICMP))
    box.nic(client, "client")
    box.nic(server, "server")
    box.apply()
    assert client.tcp(server).startswith("SSH-2.0-OpenSSH"), "allowed out by one, in by the other"
    assert not client.ping(server), "the server lets ICMP in, but the client's egress rules do not let it out"
    assert not server.ping(client), "the server may send anything, but the client lets nothing in"


def test_ipv6_rules_and_anti_spoofing(lab):
    vm = lab.guest("vm", "10.0.0.2", sshd=False)
    peer = lab.guest("peer", "10.0.0.3", sshd=False)
    for guest, address in ((vm, "fd00::2"), (peer, "fd00::3")):
        guest.run("ip", "-6", "addr", "add", f"{address}/64", "dev", "eth0", "nodad", check=True)
    box = Sandbox(lab)
    box.group("g", Rule("icmp4", "ingress", "IPv4", ICMP))
    vm.nic_id = "vm-nic"

    def plan():
        nic = Nic(vm.nic_id, vm.device, vm.mac, (vm.ip, "fd00::2"), ("g",))
        return compile_host(HostState(nics=[nic], rules=box.rules))

    firewall.apply_plan(plan(), lab.host)
    assert peer.ping(vm) and not peer.run("ping", "-6", "-c", "1", "-W", "1", "fd00::2").returncode == 0
    assert vm.run("ping", "-6", "-c", "1", "-W", "1", "fd00::3").returncode == 0, "IPv6 egress and ND work"
    box.group("g", Rule("icmp4", "ingress", "IPv4", ICMP), Rule("icmp6", "ingress", "IPv6", ICMP))
    firewall.apply_plan(plan(), lab.host)
    assert peer.run("ping", "-6", "-c", "1", "-W", "1", "fd00::2").returncode == 0
    vm.run("ip", "-6", "addr", "add", "fd00::9/64", "dev", "eth0", "nodad", check=True)
    assert vm.run("ping", "-6", "-c", "1", "-W", "1", "-I", "fd00::9", "fd00::3").returncode != 0, (
        "a foreign IPv6 source is dropped")


def test_a_guest_in_a_group_cannot_poison_its_neighbours_arp_or_the_bridge(lab):
    """ARP from a filtered NIC speaks only for its own MAC and addresses, and its frames carry its own
    MAC. The same lies from a NIC in no group do take (nothing filters it, as before), which shows
    that the frames are real and that the victim would believe them."""
    lab.hrun("ip", "addr", "add", "10.0.0.1/24", "dev", "br0")  # the host itself is a neighbour too
    victim = lab.guest("vic", "10.0.0.2", sshd=False)
    owner = lab.guest("own", "10.0.0.3", sshd=False)
    liar = lab.guest("liar", "10.0.0.4", sshd=False)
    rogue = lab.guest("rog", "10.0.0.5", sshd=False)
    # No lock time: an update is believed however soon it follows the last one (the most gullible neighbour).
    victim.run("sysctl", "-qw", "net.ipv4.neigh.eth0.locktime=0", check=True)
    lab.hrun("sysctl", "-qw", "net.ipv4.neigh.br0.locktime=0")
    box = Sandbox(lab)
    box.group("g")
    box.nic(liar, "g")
    for guest in (victim, owner, rogue):
        box.nic(guest)  # in no group
    box.apply()

    def host_neighbour(ip):
        return neighbour(lab.hrun, ip)

    def port_of(mac):
        """The bridge port the host's bridge forwards `mac` to."""
        for line in lab.hrun("bridge", "fdb", "show", "br", "br0").stdout.splitlines():
            parts = line.split()
            if parts[0] == mac and "dev" in parts:
                return parts[parts.index("dev") + 1]
        return ""

    def learn():
        """The victim and the host know the owner's true MAC (from scratch), the bridge knows its port."""
        victim.run("ip", "neigh", "flush", "to", owner.ip)
        lab.hrun("ip", "neigh", "flush", "to", owner.ip)
        assert victim.ping(owner) and owner.ping("10.0.0.1")
        assert neighbour(victim.run, owner.ip) == owner.mac and host_neighbour(owner.ip) == owner.mac
        assert port_of(owner.mac) == owner.device

    def lies(guest):
        """ARP that claims the owner's address for `guest`'s MAC, in every form a neighbour believes."""
        return [
            dict(op=1, sender_ip=owner.ip, target_ip=victim.ip),  # a request to the victim
            dict(op=2, sender_ip=owner.ip, target_ip=owner.ip),  # gratuitous ARP, to everybody
            dict(op=2, sender_ip=owner.ip, target_ip=victim.ip, eth_dst=victim.mac, target_mac=victim.mac),
        ]

    # Honest ARP from the filtered NIC works: it resolves and is resolved, and its address probes are answered.
    assert liar.ping(owner), "egress is allowed and the liar's own ARP passes"
    assert neighbour(owner.run, liar.ip) == liar.mac
    assert arp_probe(liar, owner.ip) == owner.mac, "a probe from 0.0.0.0 (DHCP) passes and is answered"
    send_arp(liar, 2, sender_ip=liar.ip, target_ip=liar.ip)  # announcing its own address is fine
    assert neighbour(owner.run, liar.ip) == liar.mac

    for index, lie in enumerate(lies(rogue)):
        learn()
        send_arp(rogue, **lie)
        assert neighbour(victim.run, owner.ip) == rogue.mac, f"lie {index} takes from a NIC in no group"
    learn()
    for index, lie in enumerate(lies(liar)):
        send_arp(liar, **lie)
        assert neighbour(victim.run, owner.ip) == owner.mac, f"lie {index} from the filtered NIC is dropped"
        assert host_neighbour(owner.ip) == owner.mac
    assert victim.ping(owner), "the victim still reaches the real owner"

    # Its own address for another MAC (the ARP sender's; the Ethernet source is its own): dropped too.
    for guest, believed in ((rogue, owner.mac), (liar, liar.mac)):
        assert guest.ping(victim) and neighbour(victim.run, guest.ip) == guest.mac
        send_arp(guest, 2, sender_ip=guest.ip, target_ip=guest.ip, sender_mac=owner.mac, eth_src=guest.mac)
        assert neighbour(victim.run, guest.ip) == believed

    # A frame with the owner's MAC as Ethernet source (even one whose ARP speaks the truth) would
    # move the owner's MAC onto the sender's port of the bridge, which then sends the owner's
    # traffic there; from the filtered NIC it is dropped before the bridge learns anything.
    send_arp(rogue, 2, sender_ip=rogue.ip, target_ip=rogue.ip, eth_src=owner.mac)
    assert port_of(owner.mac) == rogue.device, "a NIC in no group moves the owner's MAC"
    learn()
    send_arp(liar, 2, sender_ip=liar.ip, target_ip=liar.ip, eth_src=owner.mac)
    assert port_of(owner.mac) == owner.device
    assert victim.ping(owner)

    # Drift: the jump into Nimbo's link-layer chains is taken away by hand; the reconcile puts it back.
    lab.hrun("ebtables", "-t", "nat", "-D", "PREROUTING", "-j", "nimbo-PREROUTING")
    send_arp(liar, **lies(liar)[1])
    assert neighbour(victim.run, owner.ip) == liar.mac, "without the jump nothing is checked"
    result = firewall.reconcile(box.plan(), lab.host)
    assert result["repaired"] == 1 and result["drifted_chains"] == ["PREROUTING"]
    learn()
    send_arp(liar, **lies(liar)[1])
    assert neighbour(victim.run, owner.ip) == owner.mac
    live = firewall.read_back(lab.host, liar.nic_id)["eb"]
    chain = l2_chain(liar.nic_id)
    assert live[0] == f"-N {chain} -P RETURN" and f"-A {chain} -p ARP --arp-ip-src {liar.ip} -j RETURN" in live


def test_applying_only_what_each_change_touched_keeps_the_host_as_its_whole_plan(lab):
    """Each change is applied through its scope (as the sync job does); after each, the reconcile,
    which compares the whole plan with the live chains, finds nothing to repair."""
    a = lab.guest("a", "10.0.0.2", sshd=False)
    b = lab.guest("b", "10.0.0.3")
    c = lab.guest("c", "10.0.0.4", sshd=False)
    box = Sandbox(lab)
    # Without the default egress rules: egress is open until a group holds an egress rule.
    box.group("g", Rule("icmp", "ingress", "IPv4", ICMP), defaults=False)
    box.group("h", Rule("ssh", "ingress", "IPv4", TCP, 22, 22, remote_group_id="r"), defaults=False)
    box.members = {"r": ["10.0.0.2"]}
    for guest in (a, b, c):
        box.nic(guest)

    def step(scope, **expected):
        result = box.apply(scope)
        for key, value in expected.items():
            assert result[key] == value, (key, result)
        assert firewall.reconcile(box.plan(), lab.host)["repaired"] == 0
        return result

    box.nic(a, "g")
    box.nic(b, "g", "h")
    step(Scope(nics=frozenset({a.nic_id, b.nic_id})))  # the NICs bring their groups' chains
    assert c.ping(a) and c.ping(b) and a.tcp(b).startswith("SSH-2.0-OpenSSH") and c.tcp(b) == ""

    box.group("g", Rule("icmp", "ingress", "IPv4", ICMP), Rule("dns", "ingress", "IPv4", 17, 53, 53), defaults=False)
    step(Scope(groups=frozenset({"g"}), added_rules=frozenset({"dns"}), only_additions=True),
         chains=[group_chains("g")[0]], conntrack_deleted=0)

    # g's first egress rule ends the open egress of g's NICs: their chains change, and the flows
    # they had open (a's pings to c) are cut although rules were only added.
    assert a.ping(c)
    box.group("g", Rule("icmp", "ingress", "IPv4", ICMP), Rule("dns", "ingress", "IPv4", 17, 53, 53),
              Rule("out-dns", "egress", "IPv4", 17, 53, 53), defaults=False)
    result = step(Scope(groups=frozenset({"g"}), added_rules=frozenset({"out-dns"}), only_additions=True))
    assert nic_chains(a.nic_id)[2] in result["chains"] and result["conntrack_deleted"] >= 1
    assert not a.ping(c)

    box.group("g", defaults=False)  # every rule of g removed: ICMP no longer gets in
    step(Scope(groups=frozenset({"g"})))
    assert not c.ping(a) and not c.ping(b)

    box.nic(c, "h")  # c joins h: its chains, and the sets naming h (none here)
    step(Scope(nics=frozenset({c.nic_id}), groups=frozenset({"h"}), members=frozenset({"h"})))
    assert not a.ping(c)

    box.members = {"r": ["10.0.0.4"]}  # a leaves r, c joins it: the set only
    result = step(Scope(members=frozenset({"r"})), chains=[], sets=[ipset_name("r", "v4")])
    assert c.tcp(b).startswith("SSH-2.0-OpenSSH") and a.tcp(b) == ""

    box.nic(b)  # b leaves both groups: unfiltered, its chains go
    step(Scope(nics=frozenset({b.nic_id}), groups=frozenset({"g", "h"}), members=frozenset({"g", "h"})))
    assert a.ping(b) and not any(name in firewall.live_chains(lab.host, "v4")[0] for name in nic_chains(b.nic_id))

    box.nic(a)
    box.nic(c)  # the last NICs leave: g's and h's chains, the sets, the dispatch chains and the jumps go
    step(Scope(nics=frozenset({a.nic_id, c.nic_id}), groups=frozenset({"g", "h"}), members=frozenset({"g", "h"})))
    saved = (lab.hrun("iptables-save").stdout + lab.hrun("ip6tables-save").stdout + lab.hrun("ipset", "save").stdout
             + lab.hrun("ebtables-save", "-t", "nat").stdout)
    assert "nimbo" not in saved


def test_long_chains_change_by_a_few_edits_and_stay_exactly_as_planned(lab, monkeypatch):
    """A rule added to or removed from a long group chain is one -A / -D line, not the whole chain
    again; what is left on the host is still exactly the plan, also when the chain drifted."""
    vm = lab.guest("vm", "10.0.0.2", sshd=False)
    peer = lab.guest("peer", "10.0.0.3", sshd=False)
    ports = [Rule(f"p{i}", "ingress", "IPv4", TCP, 1000 + i, 1000 + i) for i in range(firewall.LONG_CHAIN)]
    icmp = Rule("icmp", "ingress", "IPv4", ICMP)
    box = Sandbox(lab)
    box.group("g", *ports[:10], icmp, *ports[10:])
    box.nic(vm, "g")
    box.apply()
    gin = group_chains("g")[0]
    payloads = []
    real_run = firewall._run

    def run(netns, *args, input=None, check=True):
        if args[0] == "iptables-restore":
            payloads.append(input)
        return real_run(netns, *args, input=input, check=check)

    monkeypatch.setattr(firewall, "_run", run)

    def exact():
        return firewall.reconcile(box.plan(), lab.host)["repaired"] == 0

    box.group("g", *ports[:10], icmp, *ports[10:], Rule("new", "ingress", "IPv4", TCP, 22, 22))
    assert box.apply()["chains"] == [gin]
    assert payloads[-1].splitlines()[1:-1] == [box.plan()["v4"]["chains"][gin][-1]], "one -A line, no rewrite"
    assert exact() and peer.ping(vm)

    box.group("g", *ports, Rule("new", "ingress", "IPv4", TCP, 22, 22))  # the ICMP rule in the middle goes
    box.apply()
    assert payloads[-1].splitlines()[1:-1] == [f'-D {gin} -p icmp -m comment --comment "r:icmp" -j ACCEPT']
    assert exact() and not peer.ping(vm)

    # Drift the edits do not see (a rule deleted by hand) stays until the reconcile repairs it.
    def delete_by_hand(rule):
        lab.hrun("iptables", "-w", "-D", gin, "-p", "tcp", "-m", "tcp", "--dport", str(rule.port_min), "-m",
                 "comment", "--comment", f"r:{rule.id}", "-j", "ACCEPT")

    delete_by_hand(ports[5])
    box.group("g", *ports)
    box.apply()
    assert firewall.reconcile(box.plan(), lab.host)["repaired"] == 1 and exact()

    # A rule to remove that is not there any more: the -D fails, the applier reads the live chains
    # and rewrites the chain whole.
    delete_by_hand(ports[7])
    box.group("g", *ports[:7], *ports[9:])
    assert box.apply()["chains"] == [gin]
    assert payloads[-1].startswith(f"*filter\n:{gin} - [0:0]\n"), "rewritten whole"
    assert exact()


def test_a_nic_joining_or_leaving_a_busy_host_edits_the_dispatch_chains(lab, monkeypatch):
    """On a host with many filtered NICs, a new NIC's dispatch lines come last (NICs are ordered by
    creation) and are added as a few lines; a leaving NIC's are deleted; the host stays its plan."""
    vm = lab.guest("vm", "10.0.0.2", sshd=False)
    peer = lab.guest("peer", "10.0.0.3", sshd=False)
    others = [Nic(f"other{i}", f"{lab.prefix}o{i}", f"52:54:00:00:01:{i:02x}", (f"10.0.1.{i + 2}",), ("g",),
                  order=f"{i:04d}") for i in range(firewall.LONG_CHAIN)]  # ports of other VMs (no devices)
    rules = {"g": egress_defaults("g")}
    nic = Nic("vm-nic", vm.device, vm.mac, (vm.ip,), ("g",), order="9999")

    def plan(*extra, scope=None):
        return compile_host(HostState(nics=[*others, *extra], rules=rules), scope)

    firewall.apply_plan(plan(), lab.host)
    payloads = []
    real_run = firewall._run

    def run(netns, *args, input=None, check=True):
        if args[0] == "iptables-restore":
            payloads.append(input)
        return real_run(netns, *args, input=input, check=check)

    monkeypatch.setattr(firewall, "_run", run)
    assert peer.ping(vm)
    firewall.apply_plan(plan(nic, scope=Scope(nics=frozenset({nic.id}), groups=frozenset({"g"}))), lab.host)
    assert not any(line.startswith((":nimbo-FORWARD", ":nimbo-sg", ":nimbo-in")) for line in payloads[-1].splitlines())
    assert "-D nimbo-sg -j nimbo-in" in payloads[-1] and "-D nimbo-in -j ACCEPT" in payloads[-1]
    assert firewall.reconcile(plan(nic), lab.host)["repaired"] == 0
    assert not peer.ping(vm), "filtered from now on: ingress is denied"

    firewall.apply_plan(plan(scope=Scope(nics=frozenset({nic.id}), groups=frozenset({"g"}))), lab.host)
    dispatch = [line for line in payloads[-1].splitlines() if " nimbo-FORWARD " in line or " nimbo-sg " in line]
    assert dispatch and all(line.startswith("-D ") for line in dispatch)
    assert firewall.reconcile(plan(), lab.host)["repaired"] == 0
    assert peer.ping(vm)
