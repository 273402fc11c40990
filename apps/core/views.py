"""Portal pages of the core app: a job's live page and the polling fallback of the toasts."""

from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.projects.access import for_request
from apps.projects.portal import portal_login_required

from .models import Job


@portal_login_required
def job_detail(request, uuid):
    job = get_object_or_404(for_request(request).scope(Job.objects.select_related("requested_by")), pk=uuid)
    if request.htmx:
        return render(request, "core/job_progress.html", {"job": job})
    from django.contrib import admin

    title = f"{job.kind}: {job.target_name}" if job.target_name else job.kind
    return render(request, "core/job_detail.html", {**admin.site.each_context(request), "job": job, "title": title})


@portal_login_required
def recent_events(request):
    """Jobs that ended after ?since= (ISO time): what the toasts show when websockets are down."""
    raw = request.GET.get("since", "") or ""
    try:
        since = parse_datetime(raw)
    except ValueError:  # well formed but impossible, e.g. month 13
        since = None
    if raw and since is None:
        return JsonResponse({"error": {"code": "invalid", "message": "Give since as an ISO 8601 time, e.g. "
                                       "2026-01-31T10:00:00Z.", "field": "since"}}, status=400)
    now = timezone.now()  # taken before the query: nothing that ends in between is skipped later
    jobs = for_request(request).scope(Job.objects.all()).filter(finished__isnull=False, finished__lte=now)
    if since:
        jobs = jobs.filter(finished__gt=since)
    jobs = list(jobs.order_by("-finished")[:20])
    return JsonResponse(
        {
            "events": [{"type": "job", "job": j.as_event(), "message": j.message} for j in reversed(jobs)],
            "now": now.isoformat(),
        }
    )
