from django.contrib import admin

from apps.core.admin import ServiceAdmin

from . import quotas, services
from .models import Membership, Project, Quota


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    fields = ["user", "role", "is_default"]


class QuotaInline(admin.TabularInline):
    model = Quota
    extra = 0
    fields = ["name", "limit"]


@admin.register(Project)
class ProjectAdmin(ServiceAdmin):
    """Projects: the admin creates them, gives users a role in each and changes their quotas."""

    list_display = ["name", "description", "member_count", "created"]
    search_fields = ["name", "description"]
    fields = ["name", "description", "quota_use"]
    readonly_fields = ["quota_use"]
    inlines = [MembershipInline, QuotaInline]
    create_service = services.create_project
    update_service = services.update_project
    delete_service = services.delete_project

    @admin.display(description="members")
    def member_count(self, obj):
        return obj.memberships.count()

    @admin.display(description="quotas (use / limit)")
    def quota_use(self, obj):
        if obj is None or obj.pk is None:
            return "ZStack's defaults"
        return ", ".join(f"{q['name']} {q['used']}/{q['limit']}" for q in quotas.report(obj))
