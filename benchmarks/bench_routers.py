"""Virtual router: boot (API call -> DHCP answering), port forwarding rule create -> first forwarded packet with
1 and with 500 rules already on the router, EIP create -> first packet.

Through the REST API on a sandbox host with namespace guests, jobs run in-process; a client namespace on
the public network asks the VIP until a guest's server answers. Targets: a rule forwards within 0.5 s, and
as fast with 500 rules on the router as with 1 (a change costs what it changes, not the router's size).
"""

import statistics
import time

ROUNDS = 5


def _median(values):
    return statistics.median(values)


def _until(predicate, timeout=30, interval=0.005):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the router never forwarded")
        time.sleep(interval)


def run():
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import utils
    from django.test.utils import override_settings
    from rest_framework.test import APIClient

    try:
        utils.setup_test_environment()
    except RuntimeError:
        pass  # an earlier benchmark of this run set it up
    call_command("migrate", verbosity=0)  # the benchmark's own scratch database (NIMBO_VAR_DIR)
    api = APIClient()
    api.force_login(get_user_model().objects.create_superuser("vrbench", "vrbench@example.org", "bench-pw-1"))
    from tests.support.scenario01 import sandboxes

    with override_settings(NIMBO_JOBS_INLINE=True), sandboxes() as tracker:
        _measure(api, tracker)


def _measure(api, tracker):
    from apps.compute.models import VmInstance
    from apps.vrouter.models import PortForwardingRule, VirtualRouter
    from apps.vrouter.routers import apply
    from tests.scenarios.test_02_port_forwarding_namespaces import _guest_server
    from tests.support.scenario01 import create_vm
    from tests.support.scenario02 import Client, cloud02
    from workers.host import router

    setup = cloud02(api, tracker, vlan=300, cidr="10.30.0.0/24")
    client = Client("bench", "198.51.100.250/24")
    servers = []
    try:
        # Router boot: the first VM's create boots the router; DHCP answers once its dnsmasq runs.
        started = time.perf_counter()
        vm1 = create_vm(api, setup, "VM1", "vm1")["uuid"]
        vr = VirtualRouter.objects.select_related("host__cluster", "l3_network__l2_network",
                                                  "public_l3__l2_network").get()
        from apps.vrouter.routers import router_spec

        spec = router_spec(vr)
        mac = VmInstance.objects.get(pk=vm1).nics.get().mac
        _until(lambda: any(lease["mac"] == mac for lease in router.leases(spec)))
        boot = time.perf_counter() - started
        print(f"   router boot with the first VM (API call -> its DHCP lease): {boot:.2f} s")

        nic = str(VmInstance.objects.get(pk=vm1).nics.get().pk)
        servers.append(_guest_server(vm1, "tcp", 8080))
        vip = api.post("/api/v1/vips/", {"name": "VIP-PF", "l3_network": setup["public_l3"]}, format="json").json()

        def pf_round(port):
            started = time.perf_counter()
            reply = api.post("/api/v1/port-forwarding-rules/", {
                "name": f"PF-{port}", "vip": vip["uuid"], "protocol": "TCP", "vip_port_start": port,
                "vip_port_end": port, "guest_port_start": 8080, "guest_port_end": 8080, "vm_nic": nic},
                format="json")
            assert reply.status_code == 201, reply.content
            _until(lambda: client.ask("tcp", vip["ip"], port, timeout=0.5).startswith("vm1"))
            elapsed = time.perf_counter() - started
            assert api.delete(f"/api/v1/port-forwarding-rules/{reply.json()['uuid']}/").status_code == 204
            return elapsed

        figures = {}
        for existing in (1, 500):
            have = PortForwardingRule.objects.filter(vip__uuid=vip["uuid"]).count()
            if existing > have:  # fill the router with rules to other guest ports, applied once
                from apps.projects.quotas import set_quota
                from apps.vrouter.models import Vip

                vip_row = Vip.objects.get(pk=vip["uuid"])
                set_quota(vip_row.project, "portForwarding.num", existing + ROUNDS + 1)
                PortForwardingRule.objects.bulk_create([PortForwardingRule(
                    name=f"FILL-{i}", vip=vip_row, protocol="TCP", vip_port_start=20000 + i, vip_port_end=20000 + i,
                    guest_port_start=30000 + i, guest_port_end=30000 + i, vm_nic_id=nic, project=vip_row.project)
                    for i in range(have, existing)])
                apply(vr)
            dnat = len(router.read_tables(router.RouterSpec.from_dict(router_spec(vr)))["nat"]["nimbo-dnat"])
            times = [pf_round(2000 + existing + i) for i in range(ROUNDS)]
            figures[existing] = _median(times)
            print(f"   PF rule create -> first forwarded packet, {dnat} rules on the router: median "
                  f"{figures[existing]:.3f} s (min {min(times):.3f}, max {max(times):.3f}, {ROUNDS} rounds)")
        print(f"   500 rules vs 1: x{figures[500] / figures[1]:.2f} (target: under 0.5 s both)")

        vm2 = create_vm(api, setup, "VM2", "vm2")["uuid"]
        servers.append(_guest_server(vm2, "tcp", 8080))
        nic2 = str(VmInstance.objects.get(pk=vm2).nics.get().pk)
        times = []
        for i in range(ROUNDS):
            eip_vip = api.post("/api/v1/vips/", {"name": f"VIP-EIP-{i}", "l3_network": setup["public_l3"]},
                               format="json").json()
            started = time.perf_counter()
            reply = api.post("/api/v1/eips/", {"name": f"EIP-{i}", "vip": eip_vip["uuid"], "vm_nic": nic2},
                             format="json")
            assert reply.status_code == 201, reply.content
            _until(lambda ip=eip_vip["ip"]: client.ask("tcp", ip, 8080, timeout=0.5).startswith("vm2"))
            times.append(time.perf_counter() - started)
            assert api.delete(f"/api/v1/vips/{eip_vip['uuid']}/").status_code == 204
        print(f"   EIP create -> first packet: median {_median(times):.3f} s (min {min(times):.3f}, "
              f"max {max(times):.3f}, {ROUNDS} rounds)")
    finally:
        for proc in servers:
            proc.kill()
            proc.wait()
        client.close()
