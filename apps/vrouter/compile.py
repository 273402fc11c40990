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
