"""The home page's numbers: how many of each thing and in which state, capacity used of total, jobs."""

from django.db.models import Count, Sum
from django.urls import reverse

from apps.core.admin import state_tone
from apps.core.fields import human_size


def _states(queryset, field, url):
    rows = queryset.values(field).annotate(n=Count("pk")).order_by(field)
    return [{"state": r[field], "n": r["n"], "tone": state_tone(r[field]), "url": f"{url}?{field}__exact={r[field]}"}
            for r in rows]


def dashboard(request):
    from apps.compute.models import VmInstance
    from apps.core.models import Job
    from apps.infra.models import Host
    from apps.storage.models import PrimaryStorage
    from apps.projects.access import for_request
    from apps.vrouter.models import VirtualRouter

    access = for_request(request)  # a project's people see their project's VMs and jobs, not the hosts
    if not access.is_admin:
        return {
            "nimbo_capacity": [],
            "nimbo_counts": [{"name": "VM instances", "states": _states(
                access.scope(VmInstance.objects.all()), "state", reverse("admin:compute_vminstance_changelist"))}],
            "nimbo_running_jobs": list(access.scope(Job.objects.filter(state__in=["queued", "running"]))
                                       .order_by("-created")[:10]),
            "nimbo_failed_jobs": list(access.scope(Job.objects.filter(state="failed")).order_by("-created")[:8]),
        }
    hosts = Host.objects.aggregate(cpu=Sum("cpu_num"), memory=Sum("memory_size"))
    busy = VmInstance.objects.filter(host__isnull=False).exclude(state__in=["Stopped", "Destroyed", "Created"])
    used = busy.aggregate(cpu=Sum("instance_offering__cpu_num"), memory=Sum("instance_offering__memory_size"))
    storage = PrimaryStorage.objects.aggregate(total=Sum("total_capacity"), available=Sum("available_capacity"))
    storage_used = (storage["total"] or 0) - (storage["available"] or 0)
    capacity = [
        {"name": "CPU", "used": f"{used['cpu'] or 0} vCPU", "total": f"{hosts['cpu'] or 0} vCPU",
         "percent": _percent(used["cpu"], hosts["cpu"])},
        {"name": "Memory", "used": human_size(used["memory"] or 0), "total": human_size(hosts["memory"] or 0),
         "percent": _percent(used["memory"], hosts["memory"])},
        {"name": "Primary storage", "used": human_size(storage_used), "total": human_size(storage["total"] or 0),
         "percent": _percent(storage_used, storage["total"])},
    ]
    counts = [
        {"name": "VM instances", "states": _states(VmInstance.objects.all(), "state",
                                                   reverse("admin:compute_vminstance_changelist"))},
        {"name": "Hosts", "states": _states(Host.objects.all(), "status", reverse("admin:infra_host_changelist"))},
        {"name": "Virtual routers", "states": _states(VirtualRouter.objects.all(), "state",
                                                      reverse("admin:vrouter_virtualrouter_changelist"))},
    ]
    return {
        "nimbo_capacity": capacity,
        "nimbo_counts": counts,
        "nimbo_running_jobs": list(Job.objects.filter(state__in=["queued", "running"]).order_by("-created")[:10]),
        "nimbo_failed_jobs": list(Job.objects.filter(state="failed").order_by("-created")[:8]),
    }


def _percent(used, total):
    return min(100, round(100 * (used or 0) / total)) if total else 0
