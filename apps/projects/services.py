"""Operations on projects, memberships and quotas (the admin's, through the portal and the API)."""

from apps.core.jobs import operation
from apps.core.services import create_object, delete_object, update_object

from . import quotas
from .models import Membership, Project


@operation("createProject")
def create_project(**fields):
    return create_object(Project, fields)


@operation("updateProject", target="project")
def update_project(project, **fields):
    return update_object(project, fields)


@operation("deleteProject", target="project")
def delete_project(project):
    """A project that still owns resources is refused (409 naming them)."""
    delete_object(project)


@operation("addProjectMember", target="project")
def add_member(project, *, member, role, is_default=False):
    membership, _ = Membership.objects.update_or_create(project=project, user=member,
                                                        defaults={"role": role, "is_default": is_default})
    membership.full_clean()
    return membership


@operation("removeProjectMember", target="project")
def remove_member(project, *, member):
    Membership.objects.filter(project=project, user=member).delete()


@operation("updateQuota", target="project")
def update_quota(project, *, name, limit):
    return quotas.set_quota(project, name, limit)
