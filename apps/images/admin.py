from django import forms
from django.contrib import admin, messages

from apps.core.admin import ServiceAdmin, badge_column
from apps.core.fields import human_size
from apps.storage.models import BackupStorage

from . import services
from .models import Image, ImageBackupStorageRef, ImageCache


class CopyInline(admin.TabularInline):
    model = ImageBackupStorageRef
    fields = ["backup_storage", "state", "install_path", "error"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class CacheInline(CopyInline):
    model = ImageCache
    fields = ["primary_storage", "host", "state", "install_path", "cached_size"]
    readonly_fields = fields

    @admin.display(description="size")
    def cached_size(self, obj):
        return human_size(obj.size)


class ImageForm(forms.ModelForm):
    backup_storages = forms.ModelMultipleChoiceField(queryset=BackupStorage.objects.all(), required=False,
                                                     help_text="One download job per backup storage.")

    class Meta:
        model = Image
        fields = ["name", "description", "url", "format", "media_type", "platform", "system", "shared"]


@admin.register(Image)
class ImageAdmin(ServiceAdmin):
    form = ImageForm
    list_display = ["name", "format", "media_type", "platform", "system", "state_badge", "size", "created"]
    state_badge = badge_column("state")
    list_filter = ["state", "format", "media_type", "platform", "system"]
    search_fields = ["name", "description", "url", "sha256"]
    readonly_fields = ["state_badge", "size", "virtual", "sha256"]
    inlines = [CopyInline, CacheInline]
    update_service = services.update_image

    def get_fields(self, request, obj=None):
        base = ["name", "description", "url", "format", "media_type", "platform", "system", "shared"]
        return [*base, *self.readonly_fields] if obj else [*base, "backup_storages"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "url", "format", "media_type"] if obj else []

    @admin.display(description="actual size", ordering="actual_size")
    def size(self, obj):
        return human_size(obj.actual_size)

    @admin.display(description="virtual size", ordering="virtual_size")
    def virtual(self, obj):
        return human_size(obj.virtual_size)

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in ImageForm.Meta.fields if f in form.cleaned_data}
        if change:
            saved = services.update_image(obj, user=request.user, **data)
        else:
            saved, jobs = services.add_image(user=request.user, backup_storages=list(
                form.cleaned_data.get("backup_storages") or []), **data)
            self.started_jobs(request, jobs)
        obj.pk = saved.pk
        obj._state.adding = False

    def delete_model(self, request, obj):
        services.delete_image(obj, user=request.user)
        self.message_user(request, f"Deleting image {obj.name}: its files are removed by a job.", messages.INFO)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)
