"""VM create (API call -> Running) for 1, 10 and 100 namespace guests on a sandbox host, next to ZStack.

ZStack's published figures (createVmInstance, image already cached): 1 VM 0.51 s, 10 VMs 1.55 s,
100 VMs 11.33 s. Here: N creates through the REST API at once, run by 4 RQ workers; the time is
from the first call until the last VM is Running. The L3's virtual router is booted by a warm-up
VM first (ZStack's figures are for a network whose router already runs).
"""

import os
import subprocess
import sys
import time

ZSTACK = {1: 0.51, 10: 1.55, 100: 11.33}
WORKERS = 4


def _cloud(api):
    from tests.support.factories import make_image

    def ok(response, status):
        assert response.status_code == status, response.content
        return response.json()

    zone = ok(api.post("/api/v1/zones/", {"name": "ZONE1"}, format="json"), 201)["uuid"]
    cluster = ok(api.post("/api/v1/clusters/", {"name": "CLUSTER1", "zone": zone, "hypervisor_type": "Sandbox"},
                          format="json"), 201)["uuid"]
    ok(api.post("/api/v1/hosts/", {"name": "HOST1", "cluster": cluster, "management_ip": "198.51.100.11",
                                   "password": "s3cret-Pw"}, format="json"), 202)
    offering = ok(api.post("/api/v1/instance-offerings/", {"name": "64M", "cpu_num": 1, "memory_size": "64M"},
                           format="json"), 201)["uuid"]
    image = str(make_image("zs-sample-image").uuid)
    l2 = ok(api.post("/api/v1/l2-networks/", {"name": "L2", "zone": zone, "type": "L2NoVlanNetwork",
                                              "physical_interface": "eth0"}, format="json"), 201)["uuid"]
    ok(api.post(f"/api/v1/l2-networks/{l2}/attach/", {"cluster": cluster}, format="json"), 200)
    l3 = ok(api.post("/api/v1/l3-networks/", {"name": "L3", "l2_network": l2, "dns_domain": "bench.example.org"},
                     format="json"), 201)["uuid"]
    ok(api.post(f"/api/v1/l3-networks/{l3}/ip-ranges/", {"name": "R", "start_ip": "10.0.0.10", "end_ip": "10.0.0.250",
                                                         "netmask": "255.255.255.0", "gateway": "10.0.0.1"},
                format="json"), 201)
    ok(api.post(f"/api/v1/l3-networks/{l3}/network-services/", {"services": {"VirtualRouter": ["DHCP", "DNS"]}},
                format="json"), 200)
    # 111 VMs go to the admin's default project: past ZStack's default quotas of 20 VMs and 80 vCPUs.
    from apps.projects.access import default_project
    from apps.projects.quotas import set_quota

    for name in ("vm.num", "vm.cpuNum"):
        set_quota(default_project(), name, 1000)
    set_quota(default_project(), "vm.memorySize", 1000 * 64 * 1024**2)
    return {"offering": offering, "image": image, "l3": l3}


def _create(api, setup, name):
    response = api.post("/api/v1/vms/", {"name": name, "hostname": name.lower(), "instance_offering": setup["offering"],
                                         "image": setup["image"], "l3_networks": [setup["l3"]],
                                         "guest_kind": "Namespace"}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["uuid"]


def _wait(predicate, timeout=300):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark VMs did not settle")
        time.sleep(0.02)


def run():
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test.utils import override_settings
    from rest_framework.test import APIClient

    from apps.compute.models import VmInstance

    call_command("migrate", verbosity=0)  # the benchmark's own scratch database (NIMBO_VAR_DIR)
    api = APIClient()
    api.force_login(get_user_model().objects.create_superuser("bench", "bench@example.org", "bench-pw-1"))
    workers = []
    try:
        with override_settings(NIMBO_JOBS_INLINE=True):
            setup = _cloud(api)
            warm = _create(api, setup, "WARM")  # boots the router
        # Namespace guests use next to no CPU: let 100 of them share this machine's few cores.
        os.environ["NIMBO_CPU_OVERCOMMIT"] = "100"
        env = dict(os.environ)
        workers = [subprocess.Popen([sys.executable, "manage.py", "rqworker", "default", "--worker-class",
                                     "rq.SimpleWorker"], env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL) for _ in range(WORKERS)]
        from rq import Worker

        import django_rq

        # Only the workers of the default queue: the host agent's own workers serve the host's queue.
        _wait(lambda: len(Worker.all(queue=django_rq.get_queue("default"))) >= WORKERS, timeout=60)
        print(f"   {'VMs':>5} {'Nimbo':>9} {'ZStack':>9}")
        for n in (1, 10, 100):
            started = time.perf_counter()
            uuids = [_create(api, setup, f"VM{n}-{i}") for i in range(n)]
            _wait(lambda uuids=uuids, n=n: VmInstance.objects.filter(
                pk__in=uuids, state__in=["Running", "Error"]).count() == n)
            elapsed = time.perf_counter() - started
            failed = VmInstance.objects.filter(pk__in=uuids, state="Error").count()
            note = f"  ({failed} failed)" if failed else ""
            if failed:
                from apps.core.models import Job

                errors = set(Job.objects.filter(kind="startVmInstance", state="failed").values_list("error", flat=True))
                note += f": {sorted(errors)[:3]}"
            print(f"   {n:>5} {elapsed:>8.2f}s {ZSTACK[n]:>8.2f}s{note}", flush=True)
            if n == max(ZSTACK):
                _print_steps(uuids)
            for uuid in uuids:
                api.post(f"/api/v1/vms/{uuid}/destroy/", {}, format="json")
            _wait(lambda uuids=uuids: not VmInstance.objects.filter(pk__in=uuids).exists())
        api.post(f"/api/v1/vms/{warm}/destroy/", {}, format="json")
        _wait(lambda: not VmInstance.objects.filter(pk=warm).exists())
    finally:
        for proc in workers:
            proc.terminate()
        for proc in workers:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        _teardown()


def _print_steps(uuids):
    """Median time of each job step, to show where the time goes."""
    import statistics
    from collections import defaultdict
    from datetime import datetime

    from apps.core.models import Job

    spans = defaultdict(list)
    for job in Job.objects.filter(kind="startVmInstance", target_id__in=[str(u) for u in uuids]):
        for step in job.steps:
            if step.get("finished") and step["state"] == "done":
                name = step["name"].split(" on ")[0].split(" of ")[0]
                took = datetime.fromisoformat(step["finished"]) - datetime.fromisoformat(step["started"])
                spans[name].append(took.total_seconds())
    for name, values in sorted(spans.items()):
        print(f"         step {name!r}: median {statistics.median(values) * 1000:.0f} ms over {len(values)}")


def _teardown():
    from apps.compute.guest_specs import guest_spec
    from apps.compute.models import VmInstance
    from apps.infra import sandbox
    from apps.infra.models import Host
    from apps.vrouter.models import VirtualRouter
    from apps.vrouter.routers import router_spec
    from workers.host import guests, router

    for vm in VmInstance.objects.select_related("host__cluster").filter(host__isnull=False):
        guests.destroy(guest_spec(vm, vm.host))
    for vr in VirtualRouter.objects.select_related("host__cluster", "l3_network__l2_network"):
        router.destroy_router(router_spec(vr))
    for host in Host.objects.select_related("cluster"):
        if host.netns:
            sandbox.destroy_machine(host.netns)
    sandbox.destroy_phys()
