"""Scenario 01's cloud built through the REST API on a real sandbox host, shared by its tests.

`cloud()` runs steps 2-4 and 7-11: zone, sandbox cluster and host (its own sshd, Ansible, its agent in
its namespace), the offering, images, FLAT-L2/FLAT-L3 with its range, DNS and services, VR-OFFERING.
With `real_image=True` it also adds steps 5-7 for real: a local primary storage attached to the
cluster, a local backup storage and `zs-sample-image` added from the built guest image, so libvirt
guests boot from it. `sandboxes()` removes every guest, router, host and the sandbox switch afterwards.
"""

import os
import time
from contextlib import contextmanager

from apps.compute.choices import GuestKind
from apps.compute.guest_specs import guest_spec
from apps.compute.models import VmInstance
from apps.core.models import Job
from apps.vrouter.models import VirtualRouter
from apps.vrouter.routers import router_spec
from tests.support.api import body
from tests.support.factories import make_image
from tests.support.sandbox import SandboxTracker, free_ip
from workers.host import domains, guests, links, router

DOMAIN = "tutorials.zstack.org"


@contextmanager
def sandboxes():
    from apps.infra import sandbox

    tracker = SandboxTracker()
    try:
        yield tracker
    finally:
        # Guests and routers first (the host's namespace holds their bridge), then the hosts, then the switch.
        for vm in VmInstance.objects.select_related("host__cluster").filter(host__isnull=False):
            if vm.guest_kind == GuestKind.NAMESPACE:
                guests.destroy(guest_spec(vm, vm.host))
            else:
                domains.undefine(f"nimbo-{vm.pk}")
        for vr in VirtualRouter.objects.select_related("host__cluster", "l3_network__l2_network").filter(
                host__isnull=False):
            router.destroy_router(router_spec(vr))
        _undefine_domains_of_this_run()
        tracker.cleanup()
        sandbox.destroy_phys()


def _undefine_domains_of_this_run():
    """Domains whose files lie in this test run's var directory, even if a failed step lost their VM row."""
    from django.conf import settings

    if not domains._socket_answers(domains.LIBVIRT_SOCKET):
        return
    for dom in domains.connection().listAllDomains():
        if str(settings.VAR_DIR) in dom.XMLDesc():
            domains.undefine(dom.name())


def wait(predicate, timeout=20, interval=0.1):
    """Poll `predicate` until it returns something true or `timeout` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            return value
        time.sleep(interval)
    return value


def _real_image(api, zone, cluster):
    """Steps 5-7 with real files: local primary storage, local backup storage, the built guest image."""
    from django.conf import settings

    from apps.infra.guest_image import ensure_built, sample_image_url

    ensure_built()
    # Libvirt's qemu runs as its own user: the storage folders must be reachable by it, as on a host.
    os.chmod(settings.VAR_DIR, 0o711)
    ps = body(api.post("/api/v1/primary-storages/", {"name": "PRIMARY-STORAGE1", "zone": zone, "type": "LocalStorage",
                                                     "url": os.path.join(settings.VAR_DIR, "primary")},
                       format="json"), 201)["uuid"]
    job = body(api.post(f"/api/v1/primary-storages/{ps}/attach/", {"cluster": cluster}, format="json"), 202)["job"]
    assert Job.objects.get(pk=job["uuid"]).state == "succeeded"
    job = body(api.post("/api/v1/backup-storages/", {"name": "BACKUP-STORAGE1", "type": "Local", "zones": [zone],
                                                     "folder": os.path.join(settings.VAR_DIR, "backupStorage")},
                        format="json"), 202)["job"]
    assert Job.objects.get(pk=job["uuid"]).state == "succeeded", Job.objects.get(pk=job["uuid"]).error
    bs = body(api.get("/api/v1/backup-storages/"), 200)["results"][0]["uuid"]
    added = body(api.post("/api/v1/images/", {"name": "zs-sample-image", "url": sample_image_url(), "format": "qcow2",
                                              "media_type": "RootVolumeTemplate", "platform": "Linux",
                                              "backup_storages": [bs]}, format="json"), 202)
    job = Job.objects.get(pk=added["job"]["uuid"])
    assert job.state == "succeeded", job.error
    return added["image"]["uuid"]


def base_cloud(api, tracker, real_image=False):
    """Steps 2-4 and 8 (and 5-7 with `real_image`): zone, sandbox cluster and host, offering, images."""
    zone = body(api.post("/api/v1/zones/", {"name": "ZONE1"}, format="json"), 201)["uuid"]
    cluster = body(api.post("/api/v1/clusters/", {"name": "CLUSTER1", "zone": zone, "hypervisor_type": "Sandbox"},
                            format="json"), 201)["uuid"]
    job = body(api.post("/api/v1/hosts/", {"name": "HOST1", "cluster": cluster, "management_ip": free_ip(),
                                           "password": "s3cret-Pw"}, format="json"), 202)["job"]
    assert Job.objects.get(pk=job["uuid"]).state == "succeeded", Job.objects.get(pk=job["uuid"]).error
    from apps.infra.models import Host

    tracker.track(Host.objects.select_related("cluster").get().netns)
    offering = body(api.post("/api/v1/instance-offerings/", {"name": "512M-512HZ", "cpu_num": 1, "cpu_speed": 512,
                                                            "memory_size": "512M"}, format="json"), 201)["uuid"]
    if real_image:
        image = _real_image(api, zone, cluster)
    else:
        image = str(make_image("zs-sample-image", state="Ready").uuid)
    vr_image = str(make_image("VIRTUAL-ROUTER", system=True, state="Ready").uuid)
    return {"zone": zone, "cluster": cluster, "offering": offering, "image": image, "vr_image": vr_image}


def cloud(api, tracker, real_image=False):
    """Steps 2-4, 7-11 (and 5-6 with `real_image`); the uuids the VM steps need."""
    base = base_cloud(api, tracker, real_image=real_image)
    zone, cluster, vr_image = base["zone"], base["cluster"], base["vr_image"]
    l2 = body(api.post("/api/v1/l2-networks/", {"name": "FLAT-L2", "zone": zone, "type": "L2NoVlanNetwork",
                                                "physical_interface": "eth0"}, format="json"), 201)["uuid"]
    body(api.post(f"/api/v1/l2-networks/{l2}/attach/", {"cluster": cluster}, format="json"), 200)
    l3 = body(api.post("/api/v1/l3-networks/", {"name": "FLAT-L3", "l2_network": l2, "type": "L3BasicNetwork",
                                                "dns_domain": DOMAIN}, format="json"), 201)["uuid"]
    url = f"/api/v1/l3-networks/{l3}"
    body(api.post(f"{url}/ip-ranges/", {"name": "FLAT-IP-RANGE", "start_ip": "198.51.100.230",
                                        "end_ip": "198.51.100.240", "netmask": "255.255.255.0",
                                        "gateway": "198.51.100.1"}, format="json"), 201)
    body(api.post(f"{url}/dns/", {"dns": "8.8.8.8"}, format="json"), 200)
    body(api.post(f"{url}/network-services/", {"services": {"VirtualRouter": ["DHCP", "DNS"],
                                                             "SecurityGroup": ["SecurityGroup"]}}, format="json"), 200)
    body(api.post("/api/v1/virtual-router-offerings/", {
        "name": "VR-OFFERING", "zone": zone, "cpu_num": 1, "cpu_speed": 512, "memory_size": "512M",
        "image": vr_image, "management_l3": l3, "is_default": True}, format="json"), 201)
    return {**base, "l3": l3}


def create_vm(api, setup, name, hostname, kind="Namespace", **extra):
    return body(api.post("/api/v1/vms/", {"name": name, "hostname": hostname, "instance_offering": setup["offering"],
                                          "image": setup["image"], "l3_networks": [setup["l3"]],
                                          "guest_kind": kind, **extra}, format="json"), 201)


def agent_view(host):
    """The sandbox host's agent made the guests' and routers' namespaces inside its own mount
    namespace: commands naming them (`ip netns exec ...`) must look from there."""
    from apps.infra import sandbox

    pid = links.read_pid(str(sandbox.machine_dir(host.netns) / "agent.pid"))
    return ["nsenter", f"--mount=/proc/{pid}/ns/mnt", "--"]
