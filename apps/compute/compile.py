"""Libvirt domain XML for a VM, compiled from plain data (no database, no host).

`compile_domain(plan)` builds the XML with lxml, never by formatting strings. The plan:
    name, uuid, memory (bytes), vcpus, domain_type ("kvm" or "qemu"),
    disks: [{path, format ("qcow2"/"raw"), dev ("vda")}],
    nics: [{mac, dev (the tap's name), bridge (None on a sandbox host)}],
    console_log (path of the file the serial console is written to),
    optional kernel, initrd, cmdline (direct kernel boot, used by appliances and tests).

NICs: on a KVM host the tap goes straight onto the L2 bridge (`<interface type='bridge'>`).
On a sandbox host the bridge lives inside the host's namespace, which libvirt cannot reach, so
the NIC is `<interface type='ethernet'>` with a fixed tap name: libvirt creates the tap in the
root namespace, and right after start the agent moves it into the host namespace and enslaves
it to the bridge (qemu keeps its file descriptor, the packets follow the device).
"""

from lxml import etree


def _sub(parent, tag, text=None, **attrs):
    el = etree.SubElement(parent, tag, {k.rstrip("_"): str(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = str(text)
    return el


def compile_domain(plan):
    """The domain XML (str) for one VM."""
    domain_type = plan.get("domain_type") or "qemu"
    if domain_type not in ("kvm", "qemu"):
        raise ValueError(f"Unknown domain type {domain_type!r}.")
    dom = etree.Element("domain", type=domain_type)
    _sub(dom, "name", plan["name"])
    _sub(dom, "uuid", plan["uuid"])
    _sub(dom, "memory", int(plan["memory"]) // 1024, unit="KiB")
    _sub(dom, "vcpu", int(plan.get("vcpus") or 1))
    os_el = _sub(dom, "os")
    _sub(os_el, "type", "hvm", arch="x86_64", machine="pc")
    if plan.get("kernel"):
        _sub(os_el, "kernel", plan["kernel"])
        if plan.get("initrd"):
            _sub(os_el, "initrd", plan["initrd"])
        if plan.get("cmdline"):
            _sub(os_el, "cmdline", plan["cmdline"])
    else:
        _sub(os_el, "boot", dev="hd")
    features = _sub(dom, "features")
    _sub(features, "acpi")
    _sub(features, "apic")
    if domain_type == "kvm":
        _sub(dom, "cpu", mode="host-passthrough")
    _sub(dom, "on_poweroff", "destroy")
    _sub(dom, "on_reboot", "restart")
    _sub(dom, "on_crash", "destroy")
    devices = _sub(dom, "devices")
    for disk in plan.get("disks", []):
        d = _sub(devices, "disk", type="file", device="disk")
        _sub(d, "driver", name="qemu", type=disk.get("format", "qcow2"), cache="none" if domain_type == "kvm" else None)
        _sub(d, "source", file=disk["path"])
        _sub(d, "target", dev=disk.get("dev", "vda"), bus="virtio")
    for nic in plan.get("nics", []):
        if nic.get("bridge"):
            i = _sub(devices, "interface", type="bridge")
            _sub(i, "source", bridge=nic["bridge"])
        else:
            i = _sub(devices, "interface", type="ethernet")
        _sub(i, "mac", address=nic["mac"])
        _sub(i, "target", dev=nic["dev"])
        _sub(i, "model", type="virtio")
    serial = _sub(devices, "serial", type="file")
    _sub(serial, "source", path=plan["console_log"], append="on")
    _sub(serial, "target", port=0)
    console = _sub(devices, "console", type="file")
    _sub(console, "source", path=plan["console_log"], append="on")
    _sub(console, "target", type="serial", port=0)
    _sub(devices, "memballoon", model="none")
    return etree.tostring(dom, pretty_print=True, encoding="unicode")
