"""The one place that says who may do what; the API, the portal, the CLI (through the API) and the
websocket all ask it.

Roles: a cloud admin (a superuser, or a user with the permission projects.administer_cloud) runs
the infrastructure and sees every project. A project member uses and changes the resources of
their current project and uses what the admin shared; a reader sees the project and changes
nothing. Each request has one current project: the `X-Nimbo-Project` header (uuid or name), else
the one chosen in the portal (session), else the user's default membership.

Each model has one policy:
- OWNED: rows belong to a project (the path to it is given); a user sees only the current
  project's rows (another project's object answers 404, as if absent);
- SHARED: rows of a project, or shared with every project by the admin (L3 networks, images);
- CATALOG: readable by every signed-in user, changed by the admin (zones, instance offerings);
- PERSONAL: a user's own rows (their API tokens, their account);
- INFRA (every model not listed): the admin's alone; anyone else gets 403.
"""

import contextvars
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db.models import Q

from .models import DEFAULT_PROJECT_NAME, Membership, Project, Role

PROJECT_HEADER = "HTTP_X_NIMBO_PROJECT"
SESSION_KEY = "nimbo_project"

OWNED, SHARED, CATALOG, INFRA, PERSONAL = "owned", "shared", "catalog", "infra", "personal"

# model label -> (policy, path from the model to its project)
POLICIES = {
    "compute.vminstance": (OWNED, "project"),
    "compute.vmnic": (OWNED, "vm_instance__project"),
    "storage.volume": (OWNED, "project"),
    "secgroups.securitygroup": (OWNED, "project"),
    "secgroups.securitygrouprule": (OWNED, "security_group__project"),
    "secgroups.securitygroupnicref": (OWNED, "security_group__project"),
    "secgroups.securitygroupl3networkref": (OWNED, "security_group__project"),
    "vrouter.vip": (OWNED, "project"),
    "vrouter.portforwardingrule": (OWNED, "project"),
    "vrouter.eip": (OWNED, "project"),
    "core.job": (OWNED, "project"),
    "networks.l3network": (SHARED, "project"),
    "images.image": (SHARED, "project"),
    "infra.zone": (CATALOG, None),
    "compute.instanceoffering": (CATALOG, None),
    "projects.project": (OWNED, "pk"),
    # A user's own rows, whatever their projects: their API tokens (listed and revoked in the portal), themselves.
    "authtoken.token": (PERSONAL, "user"),
    "authtoken.tokenproxy": (PERSONAL, "user"),
    "auth.user": (PERSONAL, "pk"),
}
# Personal models whose own rows a user may create and delete.
USER_WRITABLE_PERSONAL = {"authtoken.token", "authtoken.tokenproxy"}
# Shared models whose own rows a member may create and change (the others are the admin's to make).
MEMBER_WRITABLE_SHARED = {"images.image"}


def policy(model):
    return POLICIES.get(model._meta.label_lower, (INFRA, None))


def is_cloud_admin(user):
    return bool(user and user.is_active and user.is_authenticated
                and (user.is_superuser or user.has_perm("projects.administer_cloud")))


def default_project():
    """The project an admin's creations go to when the request names none."""
    project, _ = Project.objects.get_or_create(name=DEFAULT_PROJECT_NAME)
    return project


class UnknownProject(PermissionDenied):
    pass


@dataclass
class Access:
    """What one request may do: who asks, as what, in which project."""

    user: object
    is_admin: bool = False
    project: Project | None = None  # the current project (None: an admin acting on everything, or no membership)
    role: str | None = None  # the role in the current project (None for an admin)
    project_ids: set = field(default_factory=set)  # every project the user belongs to

    @property
    def authenticated(self):
        return bool(self.user and self.user.is_authenticated and self.user.is_active)

    # --- reading -------------------------------------------------------------------------------------
    def can_read(self, model):
        if self.is_admin:
            return True
        if not self.authenticated:
            return False
        kind, _ = policy(model)
        return kind != INFRA

    def scope(self, queryset):
        """The rows of `queryset` this request may see (infrastructure: none unless admin)."""
        if self.is_admin:
            return queryset
        if not self.authenticated:
            return queryset.none()
        kind, path = policy(queryset.model)
        if kind == CATALOG:
            return queryset
        if kind == PERSONAL:
            return queryset.filter(**{path: self.user.pk})
        if kind == INFRA or self.project is None:
            if kind == SHARED and self.authenticated:
                return queryset.filter(shared=True)
            return queryset.none()
        if kind == SHARED:
            return queryset.filter(Q(**{path: self.project.pk}) | Q(shared=True))
        if queryset.model._meta.label_lower == "projects.project":  # every project the user belongs to
            return queryset.filter(pk__in=self.project_ids)
        if queryset.model._meta.label_lower == "core.job":  # and the user's own calls, whatever their project
            return queryset.filter(Q(project=self.project.pk) | Q(requested_by=self.user.pk))
        return queryset.filter(**{path: self.project.pk})

    def usable(self, queryset):
        """The rows a request may name in its input: what it sees, plus the infrastructure it builds on
        (a zone, a primary or backup storage, an offering)."""
        kind, _ = policy(queryset.model)
        if kind == INFRA and self.authenticated:
            return queryset
        return self.scope(queryset)

    # --- changing ------------------------------------------------------------------------------------
    def can_change(self, model, obj=None):
        """May this request create (obj None), change or delete rows of `model` / this object?"""
        if self.is_admin:
            return True
        kind, path = policy(model)
        if kind == PERSONAL and self.authenticated:
            label = model._meta.label_lower
            return label in USER_WRITABLE_PERSONAL and (obj is None or getattr(obj, "user_id", None) == self.user.pk)
        if not self.authenticated or self.project is None or self.role != Role.MEMBER:
            return False
        if kind == OWNED and model._meta.label_lower not in ("core.job", "projects.project"):
            return True
        if kind == SHARED and model._meta.label_lower in MEMBER_WRITABLE_SHARED:
            return obj is None or obj.project_id == self.project.pk
        return False

    def check_change(self, model, obj=None):
        if not self.can_change(model, obj):
            raise PermissionDenied(self.refusal(model))

    def refusal(self, model):
        name = model._meta.verbose_name
        if self.is_admin or not self.authenticated:
            return "You do not have permission to perform this action."
        if self.project is None:
            return "You are not a member of any project."
        if self.role == Role.READER:
            return f"You are a reader in project {self.project}: you cannot change anything."
        return f"Only a cloud admin may change {name}s."

    def project_for_create(self):
        """The project a new resource goes to."""
        if self.project is not None:
            return self.project
        if self.is_admin:
            return default_project()
        raise PermissionDenied("You are not a member of any project.")

    def owner_for_create(self, model):
        """The project of a new `model` row: the current one; an admin's shared-kind rows (L3 networks,
        images) stay the admin's when no project is named, their owned-kind rows go to "default"."""
        kind, _ = policy(model)
        if kind == OWNED:
            return self.project_for_create()
        if kind == SHARED:
            if self.project is None and not self.is_admin:
                raise PermissionDenied("You are not a member of any project.")
            return self.project
        return None

    def check_sharing(self, data):
        if data.get("shared") and not self.is_admin:
            raise PermissionDenied("Only a cloud admin may share with every project.")

    def may_see_job_event(self, event):
        if self.is_admin:
            return True
        job = event.get("job") or {}
        if job.get("requested_by") is not None and job.get("requested_by") == getattr(self.user, "pk", None):
            return True
        return job.get("project") is not None and job["project"] in {str(p) for p in self.project_ids}


def _find_project(ref):
    import uuid as uuid_module

    try:
        return Project.objects.get(pk=uuid_module.UUID(str(ref)))
    except (ValueError, Project.DoesNotExist):
        return Project.objects.filter(name=ref).first()


def for_user(user, wanted=None):
    """The Access of `user`, in project `wanted` (uuid or name) or their default one.

    Naming a project the user does not belong to is refused as if it did not exist.
    """
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return Access(user=user)
    admin = is_cloud_admin(user)
    if admin and not wanted:
        return Access(user=user, is_admin=True)  # sees everything: no need to read memberships
    memberships = list(Membership.objects.filter(user=user).select_related("project")
                       .order_by("-is_default", "project__name"))
    ids = {m.project_id for m in memberships}
    if wanted:
        project = _find_project(wanted)
        membership = next((m for m in memberships if project and m.project_id == project.pk), None)
        if project is None or (membership is None and not admin):
            raise UnknownProject(f"Project {wanted} not found.")
        return Access(user=user, is_admin=admin, project=project, role=membership.role if membership else None,
                      project_ids=ids)
    if memberships:
        first = memberships[0]
        return Access(user=user, project=first.project, role=first.role, project_ids=ids)
    return Access(user=user, project_ids=ids)


def for_request(request):
    """The request's Access, computed once: header, then session, then the user's default."""
    cached = getattr(request, "_nimbo_access", None)
    if cached is not None and cached.user is request.user:
        return cached
    wanted = request.META.get(PROJECT_HEADER, "").strip()
    session = getattr(request, "session", None)
    if not wanted and session is not None:
        wanted = session.get(SESSION_KEY, "")
    try:
        access = for_user(request.user, wanted or None)
    except UnknownProject:
        if request.META.get(PROJECT_HEADER):
            raise
        session.pop(SESSION_KEY, None)  # a portal choice that no longer holds: back to the default
        access = for_user(request.user)
    request._nimbo_access = access
    CURRENT.set(access)
    return access


# The current request's Access, for code with no request at hand (serializers' related fields).
# Set when a request's access is computed; AccessMiddleware clears it when the request ends.
CURRENT = contextvars.ContextVar("nimbo_access", default=None)


class AccessMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = CURRENT.set(None)
        try:
            return self.get_response(request)
        finally:
            CURRENT.reset(token)
