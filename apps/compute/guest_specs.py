"""The plain data a host needs to run a VM's guest (rows in, dicts out; the key pair is the only I/O).

- namespace guests: the spec of `workers.host.guests.NamespaceGuest`;
- libvirt guests: {name, xml, taps}: the domain XML (apps/compute/compile.py) and, on a sandbox
  host, the taps the agent moves into the host's namespace.

Guests accept root logins with the installation's guest key (var/guest-ssh/id_ed25519, made on
first use), so the portal's operators and the tests can log in to every guest they run.
"""

import subprocess
from pathlib import Path

from django.conf import settings

from .choices import GuestKind
from .compile import compile_domain


def guest_key_path():
    path = Path(settings.VAR_DIR) / "guest-ssh" / "id_ed25519"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "nimbo-guests", "-f", str(path)],
                       check=True)
    return path


def guest_public_key():
    return Path(f"{guest_key_path()}.pub").read_text()


def l2_spec(l2):
    return {"interface": l2.physical_interface, "vlan": getattr(l2, "vlan", None) or None}


def namespace_name(vm):
    return f"nimbo-vm-{vm.pk.hex[:10]}"


def _nics(vm):
    return list(vm.nics.select_related("l3_network__l2_network").order_by("device_index"))


def console_path(vm):
    """Where a libvirt guest's serial console is written on its host."""
    return str(Path(settings.VAR_DIR) / "console" / f"{vm.pk}.log")


def l2_specs(nics):
    """The distinct L2 networks of these NICs, as specs: the host agent makes sure of their bridges
    in the same call that plugs the guest in (no call of its own per VM)."""
    specs = []
    for nic in nics:
        spec = l2_spec(nic.l3_network.l2_network)
        if spec not in specs:
            specs.append(spec)
    return specs


def guest_spec(vm, host):
    host_netns = host.netns or None
    nics = _nics(vm)
    if vm.guest_kind == GuestKind.NAMESPACE:
        return {
            "name": namespace_name(vm), "hostname": vm.hostname or namespace_name(vm), "host_netns": host_netns,
            "authorized_keys": guest_public_key(), "l2_networks": l2_specs(nics),
            "nics": [{"dev": n.internal_name, "bridge": n.l3_network.l2_network.bridge_name, "mac": n.mac,
                      "inner": f"eth{n.device_index}"} for n in nics],
        }
    volume = vm.volumes.filter(type="Root").first()
    console = console_path(vm)
    plan = {
        "name": f"nimbo-{vm.pk}", "uuid": str(vm.pk),
        "memory": vm.instance_offering.memory_size if vm.instance_offering else 256 * 1024**2,
        "vcpus": vm.instance_offering.cpu_num if vm.instance_offering else 1,
        "domain_type": host.domain_type or "qemu", "console_log": console,
        "disks": [{"path": volume.install_path, "format": volume.format, "dev": "vda"}] if volume else [],
        "nics": [{"mac": n.mac, "dev": n.internal_name,
                  "bridge": None if host_netns else n.l3_network.l2_network.bridge_name} for n in nics],
    }
    return {"name": plan["name"], "xml": compile_domain(plan), "console_log": console, "l2_networks": l2_specs(nics),
            "taps": [{"dev": n.internal_name, "bridge": n.l3_network.l2_network.bridge_name, "host_netns": host_netns}
                     for n in nics] if host_netns else []}
