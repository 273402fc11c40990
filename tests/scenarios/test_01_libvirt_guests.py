"""Scenario 01 completely, through the REST API, with libvirt guests booted from the built image.

The cloud is scenario 01's (tests/support/scenario01.py) with real storage: the image `make image`
builds is added to a local backup storage, cached on the local primary storage and given to each VM
as a qcow2 overlay. INNER-VM and OUTER-VM are libvirt domains (QEMU, software emulation where KVM
does not work) whose taps sit on FLAT-L2's bridge inside the sandbox host. Everything "from
OUTER-VM" runs inside OUTER-VM: the test logs in to it over SSH from the virtual router's namespace
(the router's leg is on the same L2) and runs busybox and dbclient there.
"""

import os
import shlex
import shutil
import subprocess
import time

import pytest
from django.urls import reverse

from apps.compute.models import VmInstance
from apps.core.models import Job
from apps.infra.guest_image import GUEST_PASSWORD
from apps.storage.models import Volume
from apps.vrouter.models import VirtualRouter
from apps.vrouter.routers import router_spec
from tests.support.api import body
from tests.support.scenario01 import DOMAIN, agent_view, cloud, create_vm, wait
from workers.host import domains, links, router

pytestmark = [
    pytest.mark.django_db(transaction=True), pytest.mark.root, pytest.mark.slow,
    pytest.mark.skipif(not (shutil.which("libvirtd") and shutil.which("qemu-system-x86_64")),
                       reason="needs libvirtd and QEMU"),
]
INNER, OUTER = "198.51.100.230", "198.51.100.232"
BOOT = 240  # seconds a guest may take to boot under software emulation on a loaded machine


def assert_started_by_the_host(add_job):
    """libvirt answers, its daemons run in the machine's own network namespace (not in the sandbox
    host's, where the agent runs), and adding the host checked it."""
    assert domains.libvirt_answers()
    for pid in domains.started_daemons():
        assert os.readlink(f"/proc/{pid}/ns/net") == os.readlink("/proc/self/ns/net")
    step = next(s for s in add_job.steps if s["name"].startswith("Check that libvirt answers"))
    assert step["state"] == "done" and add_job.result["libvirt"]


class Guest:
    """A libvirt guest on FLAT-L3, driven over SSH from the virtual router's namespace."""

    def __init__(self, vm, via, router_ns, address, key):
        self.vm, self.address = vm, address
        self.prefix = [*via, "ip", "netns", "exec", router_ns, "ssh", "-i", str(key), "-o", "BatchMode=yes",
                       "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                       "-o", "ConnectTimeout=5", f"root@{address}"]

    def run(self, command, timeout=40):
        try:
            return subprocess.run([*self.prefix, command], capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            return subprocess.CompletedProcess(exc.cmd, 124, exc.stdout or "", "timed out")

    def ssh(self, target, command, timeout=10):
        """`ssh root@target command` run inside this guest (dbclient; the image's root password)."""
        inner = (f"DROPBEAR_PASSWORD={GUEST_PASSWORD} timeout {timeout} ssh -y -y root@{target} "
                 f"{shlex.quote(command)}")
        return self.run(inner, timeout=timeout + 20)

    def ping(self, target):
        return self.run(f"ping -c 1 -W 2 {target}").returncode == 0

    def console(self):
        return domains_console(self.vm)


def domains_console(vm):
    """The tail of the guest's serial console (written on this machine for a sandbox host)."""
    from django.conf import settings

    try:
        with open(os.path.join(settings.VAR_DIR, "console", f"{vm.pk}.log"), errors="replace") as f:
            return f.read()[-3000:]
    except FileNotFoundError:
        return "(no console)"


def booted(guest):
    """Wait until the guest answers SSH from the router; the console tail if it never does."""
    tries = []
    if wait(lambda: tries.append(guest.run("true", timeout=15)) or tries[-1].returncode == 0, timeout=BOOT,
            interval=2):
        return True
    pytest.fail(f"{guest.vm.name} did not answer SSH at {guest.address} ({tries[-1].stderr.strip()}); "
                f"console:\n{guest.console()}")


def test_scenario_01_with_libvirt_guests_from_the_built_image(api, jobs_inline, sandboxes, libvirtd, guest_key):
    setup = cloud(api, sandboxes, real_image=True)
    if libvirtd:  # libvirtd was not running: the README's steps alone brought it up
        assert_started_by_the_host(Job.objects.get(kind="addHost"))
    # 12. SECURITY-GROUP-1: SSH in from anywhere; attached to FLAT-L3.
    group = body(api.post("/api/v1/security-groups/", {"name": "SECURITY-GROUP-1"}, format="json"), 201)
    base = f"/api/v1/security-groups/{group['uuid']}"
    rule = {"type": "Ingress", "protocol": "TCP", "start_port": 22, "end_port": 22, "allowed_cidr": ""}
    ssh_rule = body(api.post(f"{base}/rules/", rule, format="json"), 201)
    body(api.post(f"{base}/l3-networks/", {"l3_network": setup["l3"]}, format="json"), 200)

    # 13-15. INNER-VM (boots the router; its NIC joins the group), then OUTER-VM in no group.
    inner_vm = VmInstance.objects.get(pk=create_vm(api, setup, "INNER-VM", "inner", kind="Libvirt")["uuid"])
    nic = inner_vm.nics.get()
    body(api.post(f"{base}/nics/", {"nics": [str(nic.pk)]}, format="json"), 200)
    outer_vm = VmInstance.objects.get(pk=create_vm(api, setup, "OUTER-VM", "outer", kind="Libvirt")["uuid"])
    jobs = Job.objects.filter(kind="startVmInstance").order_by("created")
    assert [j.state for j in jobs] == ["succeeded", "succeeded"], [j.error for j in jobs]
    assert "Cache image zs-sample-image on PRIMARY-STORAGE1" in [s["name"] for s in jobs[0].steps]
    vms = {vm.name: VmInstance.objects.select_related("host__cluster").get(pk=vm.pk) for vm in (inner_vm, outer_vm)}
    for vm in vms.values():
        shown = body(api.get(f"/api/v1/vms/{vm.pk}/"), 200)
        assert (shown["state"], shown["guest_kind"]) == ("Running", "Libvirt")
        assert domains.state(f"nimbo-{vm.pk}") == "Running"
    host = vms["INNER-VM"].host
    vr = VirtualRouter.objects.select_related("host__cluster", "l3_network__l2_network").get()
    via = agent_view(host)
    inner = Guest(vms["INNER-VM"], via, vr.namespace, INNER, guest_key)
    outer = Guest(vms["OUTER-VM"], via, vr.namespace, OUTER, guest_key)

    # Each guest asked DHCP for its address: the router's dnsmasq handed out the ones IPAM chose.
    spec = router_spec(vr)
    for vm, address in ((vms["INNER-VM"], INNER), (vms["OUTER-VM"], OUTER)):
        mac = vm.nics.get().mac
        got = wait(lambda mac=mac: [lease for lease in router.leases(spec) if lease["mac"] == mac], timeout=BOOT,
                   interval=1)
        assert got and got[0]["ip"] == address, (got, domains_console(vm))
    booted(outer)
    booted(inner)  # SSH from the router is let in by the group's rule
    mine = outer.run("hostname; ip -4 -o addr show dev eth0; cat /etc/resolv.conf")
    assert mine.stdout.splitlines()[0] == "outer" and f"{OUTER}/24" in mine.stdout, mine
    assert f"search {DOMAIN}" in mine.stdout and f"nameserver {vr.address}" in mine.stdout, mine.stdout

    # The serial console is captured and shown in the portal.
    page = api.get(reverse("admin:compute_vminstance_change", args=[vms["OUTER-VM"].pk]))
    assert page.status_code == 200
    assert wait(lambda: f"outer up on eth0 {OUTER}/24" in domains_console(vms["OUTER-VM"]), timeout=20)
    page = api.get(reverse("admin:compute_vminstance_change", args=[vms["OUTER-VM"].pk]))
    assert f"outer up on eth0 {OUTER}/24" in page.content.decode()
    console = body(api.get(f"/api/v1/vms/{vms['OUTER-VM'].pk}/console/?size=2000"), 200)["console"]
    assert f"outer up on eth0 {OUTER}/24" in console and len(console) <= 2000

    # 16. From OUTER-VM: inner's name resolves; ping fails (no ICMP rule); SSH lands on INNER-VM.
    found = outer.run(f"nslookup inner.{DOMAIN}")
    assert found.returncode == 0 and INNER in found.stdout, found
    assert not outer.ping(INNER)
    landed = outer.ssh(f"inner.{DOMAIN}", "hostname; ip -4 -o addr show dev eth0")
    assert landed.returncode == 0, landed
    assert landed.stdout.splitlines()[0] == "inner" and f"{INNER}/24" in landed.stdout

    # An SSH session from OUTER-VM stays open while the rule allows it (dbclient's keepalive gets answers).
    session = (f"DROPBEAR_PASSWORD={GUEST_PASSWORD} ssh -y -y -K 1 root@{INNER} 'sleep 600'; "
               "echo ended >> /tmp/session")
    outer.run(f"rm -f /tmp/session; setsid sh -c {shlex.quote(session)} </dev/null >/dev/null 2>&1 &")
    assert wait(lambda: "sleep 600" in inner.run("ps").stdout, timeout=20), "the session did not open"
    time.sleep(5)
    assert "ended" not in outer.run("cat /tmp/session 2>/dev/null").stdout

    # 17-18. The rule is deleted: a new SSH fails and the open session stops working.
    assert api.delete(f"/api/v1/security-group-rules/{ssh_rule['uuid']}/").status_code == 204
    refused = outer.ssh(INNER, "true", timeout=6)
    assert refused.returncode != 0, refused
    assert wait(lambda: "ended" in outer.run("cat /tmp/session 2>/dev/null").stdout, timeout=20), \
        "the open session outlived the rule"

    # 19. The rule back: SSH works; the NIC leaves the group: ping works; OUTER-VM is never filtered.
    body(api.post(f"{base}/rules/", rule, format="json"), 201)
    assert wait(lambda: outer.ssh(INNER, "true").returncode == 0, timeout=20)
    body(api.post(f"{base}/nics/remove/", {"nics": [str(nic.pk)]}, format="json"), 200)
    assert wait(lambda: outer.ping(INNER), timeout=10)
    assert inner.ping(OUTER)

    # Reboot and stop: the guest shuts down when asked (ACPI power button) and comes back where it was.
    job = body(api.post(f"/api/v1/vms/{vms['INNER-VM'].pk}/reboot/", {"timeout": 60}, format="json"), 202)["job"]
    job = Job.objects.get(pk=job["uuid"])
    assert job.state == "succeeded" and job.result["shutdown"] == "graceful", (job.error, job.result)
    assert body(api.get(f"/api/v1/vms/{vms['INNER-VM'].pk}/"), 200)["state"] == "Running"
    booted(inner)
    assert outer.ssh(INNER, "hostname").stdout.strip() == "inner"
    job = body(api.post(f"/api/v1/vms/{vms['OUTER-VM'].pk}/stop/", {"timeout": 60}, format="json"), 202)["job"]
    job = Job.objects.get(pk=job["uuid"])
    assert job.state == "succeeded" and job.result["shutdown"] == "graceful", (job.error, job.result)
    assert domains.state(f"nimbo-{vms['OUTER-VM'].pk}") is None  # a stopped VM leaves no domain behind
    assert not links.link_exists(vms["OUTER-VM"].nics.get().internal_name, netns=host.netns)

    # Destroy: no domain, tap, disk or dnsmasq entry is left; the addresses return to the range.
    disks = [v.install_path for v in Volume.objects.filter(vm_instance__in=vms.values())]
    taps = [vm.nics.get().internal_name for vm in vms.values()]
    assert len(disks) == 2
    for vm in vms.values():
        body(api.post(f"/api/v1/vms/{vm.pk}/destroy/", {}, format="json"), 202)
    assert not VmInstance.objects.exists()
    for vm in vms.values():
        assert domains.state(f"nimbo-{vm.pk}") is None
    for tap in taps:
        assert not links.link_exists(tap, netns=host.netns) and not links.link_exists(tap)
    for path in disks:
        assert not os.path.exists(path)
    with open(f"{router.STATE_ROOT}/{vr.namespace}/dhcp-hosts") as f:
        assert f.read() == ""
    used = body(api.get(f"/api/v1/l3-networks/{setup['l3']}/used-ips/"), 200)
    assert [u["ip"] for u in used["results"]] == [vr.address]
