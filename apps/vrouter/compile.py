"""The virtual router's dnsmasq files, compiled from plain data (no database, no host).

`compile_dnsmasq(plan)` takes one router's desired DHCP/DNS state and returns the files the
host side writes into the router's state directory:

- `dnsmasq.conf`: listen on the router's leg only, answer DHCP only for known MACs (a static
  range: IPAM, not dnsmasq, hands out addresses), the L3's domain and DNS servers;
- `dhcp-hosts`: one `MAC,IP,hostname` line per NIC (re-read on SIGHUP);
- `hosts`: `IP fqdn hostname` per NIC, so guests' names resolve from dnsmasq itself even when
  the upstream servers are unreachable (re-read on SIGHUP).

The plan (all strings unless said):
    state_dir, interface, address (the router's own IP on the leg), netmask, gateway (may equal
    address), domain (may be empty), dns_servers (list of upstream IPs), hosts (list of
    {mac, ip, hostname}), lease_time (seconds, optional).
"""

import ipaddress
import re

HOSTNAME_RE = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")

CONF = "dnsmasq.conf"
DHCP_HOSTS = "dhcp-hosts"
HOSTS = "hosts"
RELOADABLE = (DHCP_HOSTS, HOSTS)  # SIGHUP re-reads these; a change to dnsmasq.conf needs a restart


def _checked_host(entry):
    mac = str(entry["mac"]).lower()
    if not MAC_RE.match(mac):
        raise ValueError(f"Invalid MAC address {entry['mac']!r}.")
    ip = str(ipaddress.IPv4Address(entry["ip"]))
    hostname = entry.get("hostname") or ""
    if hostname and not HOSTNAME_RE.match(hostname):
        raise ValueError(f"Invalid host name {hostname!r}.")
    return mac, ip, hostname


def compile_dnsmasq(plan):
    """{file name: text} for one router; deterministic (entries sorted by IP)."""
    state = plan["state_dir"]
    address = ipaddress.IPv4Address(plan["address"])
    network = ipaddress.IPv4Network(f"{address}/{plan['netmask']}", strict=False)
    domain = (plan.get("domain") or "").strip().rstrip(".")
    lease = int(plan.get("lease_time") or 86400)
    lines = [
        "# Managed by Nimbo: changes are overwritten.",
        f"interface={plan['interface']}",
        "bind-interfaces",
        "except-interface=lo",
        "no-resolv",
        "no-hosts",
        "no-poll",
        "expand-hosts" if domain else None,
        f"domain={domain}" if domain else None,
        f"local=/{domain}/" if domain else None,
        *[f"server={ipaddress.ip_address(s)}" for s in plan.get("dns_servers", [])],
        f"addn-hosts={state}/{HOSTS}",
        f"dhcp-hostsfile={state}/{DHCP_HOSTS}",
        f"dhcp-range={network.network_address},static,{network.netmask},{lease}",
        f"dhcp-option=option:router,{ipaddress.IPv4Address(plan['gateway'])}" if plan.get("gateway") else None,
        f"dhcp-option=option:dns-server,{address}",
        f"dhcp-option=option:domain-name,{domain}" if domain else None,
        "dhcp-authoritative",
        f"dhcp-leasefile={state}/leases",
        f"pid-file={state}/dnsmasq.pid",
        f"log-facility={state}/dnsmasq.log",
        "log-dhcp",
        "user=root",
    ]
    dhcp_hosts, hosts = [], []
    entries = sorted((_checked_host(h) for h in plan.get("hosts", [])), key=lambda e: ipaddress.IPv4Address(e[1]))
    for mac, ip, hostname in entries:
        dhcp_hosts.append(f"{mac},{ip},{hostname}" if hostname else f"{mac},{ip}")
        if hostname:
            hosts.append(f"{ip} {hostname}.{domain} {hostname}" if domain else f"{ip} {hostname}")
    return {
        CONF: "\n".join(line for line in lines if line) + "\n",
        DHCP_HOSTS: "".join(f"{line}\n" for line in dhcp_hosts),
        HOSTS: "".join(f"{line}\n" for line in hosts),
    }


# --- NAT and forwarding --------------------------------------------------------------------------------
#
# `compile_nat(plan)` takes one router's NAT state as plain data and returns its nat and filter tables as
# {table: {chain: [rule, ...]}}, each rule written exactly as iptables-save prints it, so the host side can
# compare it with what the router holds and change only the rules that differ. The layout is Neutron's
# L3 agent's:
#
# - nat PREROUTING and OUTPUT jump to `nimbo-dnat`: one DNAT per port forwarding rule (VIP ports -> guest
#   ports, limited to its allowed CIDR) and one per EIP (the whole VIP -> the guest);
# - nat POSTROUTING jumps to `nimbo-snat`: hairpin (a DNATed packet from a guest going back into the guest
#   network leaves as the router's private address, so the reply comes back through the router) and one
#   SNAT per EIP (its guest leaves as the VIP); then the router's public address for every other guest
#   packet leaving the public leg (when the L3 takes SNAT). Guests of the L3 reach each other directly;
# - filter FORWARD: from the public leg into the guest network only what a DNAT let in, and replies.
#
# The rules of one Nimbo chain never overlap (the models refuse overlapping VIP ports, a VIP holds either
# port forwarding or an EIP, a NIC one EIP), so their order does not matter: a change is a few -A / -D
# lines. The built-in chains hold only the jumps, in a fixed order, and are rewritten whole when they differ.
#
# The plan:
#     private: {dev, address, cidr}          the guest leg, its address (the gateway) and network
#     public: {dev, address} or None         the public leg and the router's own public address
#     snat: bool                             guests leave as the public address
#     port_forwarding: [{id, vip, protocol, vip_ports: [start, end], guest_ip, guest_ports: [start, end],
#                        allowed_cidr}]
#     eips: [{id, vip, guest_ip}]

DNAT_CHAIN = "nimbo-dnat"
SNAT_CHAIN = "nimbo-snat"
BUILTIN = {"nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"), "filter": ("INPUT", "FORWARD", "OUTPUT")}
PROTOCOLS = ("tcp", "udp")


def _host(ip):
    return f"{ipaddress.IPv4Address(ip)}/32"


def _ports(start, end):
    start, end = int(start), int(end)
    if not (1 <= start <= end <= 65535):
        raise ValueError(f"Invalid port range {start}-{end}.")
    return str(start) if start == end else f"{start}:{end}"


def _pf_rule(rule):
    protocol = str(rule["protocol"]).lower()
    if protocol not in PROTOCOLS:
        raise ValueError(f"Invalid protocol {rule['protocol']!r}.")
    (vstart, vend), (gstart, gend) = rule["vip_ports"], rule["guest_ports"]
    if vend - vstart != gend - gstart:
        raise ValueError("The VIP and guest port ranges must have the same length.")
    guest = str(ipaddress.IPv4Address(rule["guest_ip"]))
    if (vstart, vend) == (gstart, gend):
        target = guest  # the port stays as it came
    elif vstart == vend:
        target = f"{guest}:{gstart}"
    else:
        target = f"{guest}:{gstart}-{gend}/{vstart}"  # shifted: VIP port p goes to gstart + (p - vstart)
    source = ""
    if rule.get("allowed_cidr"):
        source = f"-s {ipaddress.IPv4Network(rule['allowed_cidr'], strict=False)} "
    return (f"{source}-d {_host(rule['vip'])} -p {protocol} -m {protocol} --dport {_ports(vstart, vend)} "
            f"-m comment --comment pf-{rule['id']} -j DNAT --to-destination {target}")


def compile_nat(plan):
    """{"nat": {chain: [rule]}, "filter": {chain: [rule]}} for one router; deterministic."""
    private = plan["private"]
    public = plan.get("public")
    cidr = str(ipaddress.IPv4Network(private["cidr"], strict=False))
    inside, router_ip = private["dev"], str(ipaddress.IPv4Address(private["address"]))
    dnat = sorted(_pf_rule(rule) for rule in plan.get("port_forwarding", []))
    snat = [f"-s {cidr} -d {cidr} -o {inside} -m conntrack --ctstate DNAT -j SNAT --to-source {router_ip}"]
    nat = {"PREROUTING": [f"-j {DNAT_CHAIN}"], "INPUT": [], "OUTPUT": [f"-j {DNAT_CHAIN}"],
           "POSTROUTING": [f"-j {SNAT_CHAIN}"], DNAT_CHAIN: dnat, SNAT_CHAIN: snat}
    filter_ = {"INPUT": [], "FORWARD": [], "OUTPUT": []}
    if public:
        outside = public["dev"]
        for eip in plan.get("eips", []):
            vip, guest = _host(eip["vip"]), _host(eip["guest_ip"])
            dnat.append(f"-d {vip} -m comment --comment eip-{eip['id']} -j DNAT --to-destination {guest[:-3]}")
            snat.append(f"-s {guest} -o {outside} -m comment --comment eip-{eip['id']} -j SNAT "
                        f"--to-source {vip[:-3]}")
        if plan.get("snat"):
            nat["POSTROUTING"].append(f"-s {cidr} -o {outside} -j SNAT --to-source "
                                      f"{ipaddress.IPv4Address(public['address'])}")
        filter_["FORWARD"] = [f"-i {outside} -o {inside} -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT",
                              f"-i {outside} -o {inside} -j DROP"]
    dnat.sort()
    snat.sort()
    return {"nat": nat, "filter": filter_}


def vip_addresses(plan):
    """The VIPs the public leg holds: those a port forwarding rule or an EIP of the plan uses."""
    if not plan.get("public"):
        return []
    vips = {r["vip"] for r in plan.get("port_forwarding", [])} | {e["vip"] for e in plan.get("eips", [])}
    return sorted(vips, key=ipaddress.IPv4Address)
