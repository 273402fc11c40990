"""A separate process that creates VMs through the VM service, for the concurrent-creates test.

    python -m tests.compute.vm_create_worker <l3 uuid> <offering uuid> <image uuid> <prefix> <threads>

Prints "ready", waits for a line on stdin (so every process starts together), then creates one VM per
thread at once and prints one JSON line: {"ips": [...], "exhausted": [messages], "errors": [...]}.
The database comes from the environment (NIMBO_VAR_DIR's SQLite file, or DATABASE_URL).
"""

import json
import os
import sys
import threading


def main(l3_uuid, offering_uuid, image_uuid, prefix, threads):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.db import connection

    from apps.compute.lifecycle import create_and_start_vm
    from apps.compute.models import InstanceOffering
    from apps.images.models import Image
    from apps.networks.exceptions import IpRangeExhausted
    from apps.networks.models import L3Network
    from tests.support.workers import race

    l3, offering = L3Network.objects.get(pk=l3_uuid), InstanceOffering.objects.get(pk=offering_uuid)
    image = Image.objects.get(pk=image_uuid)
    ips, exhausted, errors = [], [], []
    lock = threading.Lock()

    def work(index):
        try:
            vm, _ = create_and_start_vm(name=f"{prefix}-{index}", l3_networks=[l3], instance_offering=offering,
                                        image=image, guest_kind="Namespace", start=False)
            with lock:
                ips.append(vm.nics.get().ip)
        except IpRangeExhausted as exc:
            with lock:
                exhausted.append(exc.message)
        except Exception as exc:  # noqa: BLE001 - reported, and the test fails on it
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    race(work, threads)
    print(json.dumps({"ips": ips, "exhausted": exhausted, "errors": errors}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:5], int(sys.argv[5]))
