"""Reading a host's security-group firewall back as it is, for the packet trace (read only).

`save_tables` prints Nimbo's tables with their packet counters (`iptables-save -c -t filter`, the same for
IPv6, `ebtables-save -c -t nat`) and the members of Nimbo's ipsets. Nothing is changed on the host and no
lock is taken: a trace must never wait for, nor disturb, an apply. The text is parsed by the portal
(`apps.secgroups.trace.saved_tables`), so a host prints and the portal decides.
"""

from .firewall import TABLES, _run, live_sets
from .ops import operation
from .sgnames import PREFIX


def _nimbo_only(text):
    """Keep the table headers and Nimbo's chain declarations and rules (the host's own rules stay private)."""
    keep = []
    for line in text.splitlines():
        body = line.split("] ", 1)[1] if line.startswith("[") and "] " in line else line
        if line.startswith(("*", "COMMIT")) or body.startswith((":" + PREFIX, "-A " + PREFIX)):
            keep.append(line)
        elif body.startswith("-A ") and f"-j {PREFIX}" in body:
            keep.append(line)  # the one jump into Nimbo's chains
    return "\n".join(keep) + "\n"


def save_tables(netns):
    """{"v4": text, "v6": text, "eb": text, "sets": {name: [members]}} of the host in `netns`."""
    out = {}
    for family, table in TABLES.items():
        save = [table.save[0], "-c", *table.save[1:]]
        out[family] = _nimbo_only(_run(netns, *save).stdout)
    out["sets"] = live_sets(netns)
    return out


@operation("firewall.save")
def op_save(netns=""):
    return save_tables(netns)
