"""Libvirt domain XML, compiled without a host."""

from lxml import etree

from apps.compute.compile import compile_domain

PLAN = {
    "name": "vm-6f1c", "uuid": "6f1c0a7e-55b3-4f42-9d1c-3c2a1b0e9f10", "memory": 512 * 1024**2, "vcpus": 1,
    "domain_type": "kvm", "console_log": "/var/lib/nimbo/console/vm-6f1c.log",
    "disks": [{"path": "/ps/root-6f1c.qcow2", "format": "qcow2", "dev": "vda"}],
    "nics": [{"mac": "fa:16:3e:00:00:30", "dev": "vnic6f1c.0", "bridge": "br_eth0"}],
}


def parse(plan):
    return etree.fromstring(compile_domain(plan).encode())


def test_kvm_domain_with_virtio_disk_and_nic_on_the_bridge_and_serial_console_to_a_file():
    dom = parse(PLAN)
    assert dom.get("type") == "kvm"
    assert dom.findtext("name") == "vm-6f1c"
    assert dom.find("memory").text == str(512 * 1024) and dom.find("memory").get("unit") == "KiB"
    disk = dom.find("devices/disk")
    assert disk.find("source").get("file") == "/ps/root-6f1c.qcow2"
    assert disk.find("target").attrib == {"dev": "vda", "bus": "virtio"}
    assert disk.find("driver").get("type") == "qcow2"
    nic = dom.find("devices/interface")
    assert nic.get("type") == "bridge" and nic.find("source").get("bridge") == "br_eth0"
    assert nic.find("mac").get("address") == "fa:16:3e:00:00:30"
    assert nic.find("target").get("dev") == "vnic6f1c.0" and nic.find("model").get("type") == "virtio"
    assert dom.find("devices/serial/source").get("path") == "/var/lib/nimbo/console/vm-6f1c.log"


def test_sandbox_nic_is_a_named_tap_and_qemu_without_kvm_and_direct_kernel_boot():
    dom = parse({**PLAN, "domain_type": "qemu", "kernel": "/k/vmlinuz", "initrd": "/k/initrd",
                 "cmdline": "console=ttyS0",
                 "nics": [{"mac": "fa:16:3e:00:00:30", "dev": "vnic6f1c.0", "bridge": None}]})
    assert dom.get("type") == "qemu" and dom.find("cpu") is None
    nic = dom.find("devices/interface")
    assert nic.get("type") == "ethernet" and nic.find("source") is None
    assert nic.find("target").get("dev") == "vnic6f1c.0"
    assert dom.findtext("os/kernel") == "/k/vmlinuz" and dom.findtext("os/cmdline") == "console=ttyS0"


def test_names_are_escaped_by_the_xml_library_not_interpreted():
    dom = parse({**PLAN, "name": "a</name><devices/>"})
    assert dom.findtext("name") == "a</name><devices/>"
    assert len(dom.findall("devices")) == 1
