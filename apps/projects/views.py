"""The portal's project switch: the current project of a session (the API uses X-Nimbo-Project)."""

from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from .access import SESSION_KEY, UnknownProject, for_user
from .portal import portal_login_required


@require_POST
@portal_login_required
def switch_project(request):
    wanted = request.POST.get("project", "").strip()
    if wanted:
        try:
            access = for_user(request.user, wanted)
        except UnknownProject:
            return HttpResponseBadRequest("No such project.")
        request.session[SESSION_KEY] = str(access.project.pk)
    else:
        request.session.pop(SESSION_KEY, None)  # back to the default (for an admin: every project)
    # `next` is a path of this portal; anything else (another site, a bare word that redirect() would
    # take for a URL name and fail to reverse) goes to the home page.
    target = request.POST.get("next", "")
    if not target.startswith("/") or not url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        target = reverse("admin:index")
    return HttpResponseRedirect(target)


def current_project(request):
    """Template context: the request's project and the ones it may switch to (for the header)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from .access import for_request
    from .models import Project

    try:
        access = for_request(request)
    except UnknownProject:
        return {}
    projects = Project.objects.all() if access.is_admin else Project.objects.filter(pk__in=access.project_ids)
    return {"nimbo_access": access, "nimbo_projects": projects.order_by("name").only("uuid", "name")}
