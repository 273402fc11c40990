"""The portal's side of apps.projects.access: the admin site, every ModelAdmin, the wizards.

- AccessAdminSite (the base of portal/admin_site.py's site) lets in cloud admins, staff and project members
  and readers; every ModelAdmin registered on it gets AccessAdminMixin (rows scoped to the current project,
  choices in forms scoped to what the project may use, new rows put in the project, custom pages guarded).
- RoleBackend answers Django's model permissions (view/add/change/delete) from the role in the
  current project, so every `has_*_permission` of the admin, inlines included, asks access.py;
  a Django permission given by hand to a user grants nothing beyond their role.
- `cloud_admin_required` guards the infrastructure wizards; `portal_login_required` the pages
  every portal user may open (they scope what they show themselves).
"""

import functools

from django.apps import apps as django_apps
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.forms import ModelChoiceField
from django.urls import URLPattern

from . import access as access_module
from .access import CURRENT, for_request, for_user, is_cloud_admin

ADMIN_PERMISSION = "projects.administer_cloud"


def current_access(user):
    access = CURRENT.get()
    if access is None or access.user is not user:
        access = getattr(user, "_nimbo_access", None)
        if access is None:
            access = user._nimbo_access = for_user(user)
    return access


class RoleBackend(ModelBackend):
    """Logs in as ModelBackend does; answers model permissions from the user's role."""

    def has_perm(self, user_obj, perm, obj=None):
        if not user_obj.is_active:
            return False
        if perm == ADMIN_PERMISSION:
            return ADMIN_PERMISSION in super().get_all_permissions(user_obj)
        if is_cloud_admin(user_obj):
            return True
        app_label, _, codename = perm.partition(".")
        action, _, model_name = codename.partition("_")
        try:
            model = django_apps.get_model(app_label, model_name)
        except LookupError:
            return False
        access = current_access(user_obj)
        if action == "view":
            return access.can_read(model)
        if action in ("add", "change", "delete"):
            return access.can_change(model, obj)
        return False

    def has_module_perms(self, user_obj, app_label):
        if is_cloud_admin(user_obj):
            return True
        access = current_access(user_obj)
        return any(access.can_read(m) for m in django_apps.get_app_config(app_label).get_models())

    def get_all_permissions(self, user_obj, obj=None):
        permissions = super().get_all_permissions(user_obj, obj)
        # A permission given by hand grants nothing beyond the role: only the admin role itself counts.
        return permissions if (user_obj.is_superuser or ADMIN_PERMISSION in permissions) else set()


def scope_form(form, access):
    """Every model choice of `form` lists only what the request may use."""
    for field in form.fields.values():
        if isinstance(field, ModelChoiceField) and field.queryset is not None:
            field.queryset = access.usable(field.queryset)
    return form


def _scoped_form_class(form_class, request):
    class Scoped(form_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            scope_form(self, for_request(request))

    Scoped.__name__ = form_class.__name__
    return Scoped


def _has_project(model):
    return any(f.name == "project" for f in model._meta.get_fields())


class InlineAccessMixin:
    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = _scoped_form_class(formset.form, request)
        return formset


class AccessAdminMixin:
    """Mixed into every ModelAdmin of the site (see NimboAdminSite.register)."""

    def get_queryset(self, request):
        return for_request(request).scope(super().get_queryset(request))

    def get_form(self, request, obj=None, **kwargs):
        return _scoped_form_class(super().get_form(request, obj, **kwargs), request)

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        if not for_request(request).is_admin:
            exclude += [n for n in ("project", "shared") if n not in exclude]
        return exclude

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if for_request(request).is_admin:
            return fields
        return [f for f in fields if f not in ("project", "shared")]

    def get_inline_instances(self, request, obj=None):
        instances = super().get_inline_instances(request, obj)
        for inline in instances:
            if not isinstance(inline, InlineAccessMixin):
                inline.__class__ = type(type(inline).__name__, (InlineAccessMixin, type(inline)), {})
        return instances

    def save_model(self, request, obj, form, change):
        if not change and _has_project(self.model) and not form.cleaned_data.get("project"):
            project = for_request(request).owner_for_create(self.model)
            form.cleaned_data["project"] = obj.project = project
        return super().save_model(request, obj, form, change)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (
            obj is None or for_request(request).can_change(self.model, obj))

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (
            obj is None or for_request(request).can_change(self.model, obj))

    def get_actions(self, request):
        if not for_request(request).can_change(self.model):
            return {}
        return super().get_actions(request)

    def get_urls(self):
        """Every page of a ModelAdmin, its custom ones too (VM actions, the RQ dashboard, which draws its
        own list), is guarded: reading needs the right to read the model, a POST the right to change it."""
        guarded = []
        for pattern in super().get_urls():
            if isinstance(pattern, URLPattern):
                pattern = URLPattern(pattern.pattern, self._guard(pattern.callback), pattern.default_args,
                                     pattern.name)
            guarded.append(pattern)
        return guarded

    def _guard(self, view):
        model = self.model

        @functools.wraps(view)
        def guarded(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            access = for_request(request)
            allowed = access.can_read(model) if request.method in ("GET", "HEAD") else access.can_change(model)
            if not allowed:
                raise PermissionDenied(access.refusal(model))
            return view(request, *args, **kwargs)

        return guarded


class PortalAuthenticationForm(AdminAuthenticationForm):
    """Project members and readers sign in to the portal too, not only staff."""

    def confirm_login_allowed(self, user):
        if not user.is_active or not may_use_portal(user):
            raise self.get_invalid_login_error()


def may_use_portal(user):
    return bool(user.is_active and user.is_authenticated
                and (user.is_staff or is_cloud_admin(user) or user.memberships.exists()))


class AccessAdminSite(admin.AdminSite):
    """The base of the portal's admin site (portal/admin_site.py): who may enter, and the checks above."""

    login_form = PortalAuthenticationForm

    def has_permission(self, request):
        return may_use_portal(request.user)

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        @functools.wraps(inner)
        def with_access(request, *args, **kwargs):
            if request.user.is_authenticated:
                try:
                    for_request(request)  # the current project, for every check of this request
                except access_module.UnknownProject:
                    pass
            return inner(request, *args, **kwargs)

        return with_access

    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, AccessAdminMixin):
            admin_class = type(admin_class.__name__, (AccessAdminMixin, admin_class),
                               {"__module__": admin_class.__module__})
        return super().register(model_or_iterable, admin_class, **options)

    def login(self, request, extra_context=None):
        from .logins import guard_login_view

        return guard_login_view(request, lambda: super(AccessAdminSite, self).login(request, extra_context))


def cloud_admin_required(view):
    """For the infrastructure wizards: the cloud admin only (403 for anyone else signed in)."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_cloud_admin(request.user):
            raise PermissionDenied("Only a cloud admin may do this.")
        return view(request, *args, **kwargs)

    return wrapped


def portal_login_required(view):
    """For pages every portal user may open; they show only what for_request() lets them see."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated or not may_use_portal(request.user):
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapped
