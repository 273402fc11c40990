from django import forms
from django.contrib import admin

from apps.core.admin import ServiceAdmin
from apps.core.fields import human_size

from . import services, volumes
from .models import BackupStorage, PrimaryStorage, PrimaryStorageAttachment, Volume


def _size(value):
    return human_size(value)


class AttachmentInline(admin.TabularInline):
    model = PrimaryStorageAttachment
    fields = ["cluster", "created"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PrimaryStorage)
class PrimaryStorageAdmin(ServiceAdmin):
    list_display = ["name", "zone", "type", "url", "state", "total", "available", "created"]
    list_filter = ["zone", "type", "state"]
    search_fields = ["name", "description", "url"]
    list_select_related = ["zone"]
    fields = ["name", "description", "zone", "type", "url", "state", "mount_point", "total", "available"]
    readonly_fields = ["mount_point", "total", "available"]
    inlines = [AttachmentInline]
    actions = ["attach_to_zone_clusters", "detach_from_all_clusters", "reconnect"]
    create_service = services.create_primary_storage
    update_service = services.update_primary_storage
    delete_service = services.delete_primary_storage

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, *(["zone", "type", "url"] if obj else [])]

    @admin.display(description="total capacity")
    def total(self, obj):
        return _size(obj.total_capacity)

    @admin.display(description="available capacity")
    def available(self, obj):
        return _size(obj.available_capacity)

    @admin.action(description="Attach to every cluster of its zone not yet attached")
    def attach_to_zone_clusters(self, request, queryset):
        for storage in queryset:
            clusters = storage.zone.clusters.exclude(pk__in=storage.clusters.values("pk"))
            self.run_action(request, clusters, lambda cluster, user, s=storage: services.attach_primary_storage(
                s, cluster, user=user))


    @admin.action(description="Detach from all its clusters")
    def detach_from_all_clusters(self, request, queryset):
        for storage in queryset:
            self.run_action(request, storage.clusters.all(), lambda cluster, user, s=storage: services.
                            detach_primary_storage(s, cluster, user=user))

    @admin.action(description="Reconnect (mount again, read capacity)")
    def reconnect(self, request, queryset):
        self.run_action(request, queryset, services.reconnect_primary_storage)


class BackupStorageForm(forms.ModelForm):
    """Credentials are typed in and never shown back: empty keeps what is stored."""

    password = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False),
                               help_text="Leave empty to keep the stored password.")
    private_key = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}),
                                  help_text="OpenSSH private key. Leave empty to keep the stored key.")

    class Meta:
        model = BackupStorage
        fields = ["name", "description", "type", "hostname", "ssh_port", "username", "folder", "state", "zones"]


@admin.register(BackupStorage)
class BackupStorageAdmin(ServiceAdmin):
    form = BackupStorageForm
    list_display = ["name", "type", "hostname", "folder", "status", "password_shown", "private_key_shown", "total",
                    "available"]
    list_filter = ["type", "status", "state"]
    search_fields = ["name", "description", "hostname", "folder"]
    readonly_fields = ["status", "password_shown", "private_key_shown", "total", "available"]
    fields = ["name", "description", "type", "hostname", "ssh_port", "username", "password", "password_shown",
              "private_key", "private_key_shown", "folder", "state", "zones", "status", "total", "available"]
    filter_horizontal = ["zones"]
    actions = ["reconnect"]
    update_service = services.update_backup_storage
    delete_service = services.delete_backup_storage

    @admin.display(description="password")
    def password_shown(self, obj):
        return "set" if obj.password_set else "not set"

    @admin.display(description="private key")
    def private_key_shown(self, obj):
        return "set" if obj.private_key_set else "not set"

    @admin.display(description="total capacity")
    def total(self, obj):
        return _size(obj.total_capacity)

    @admin.display(description="available capacity")
    def available(self, obj):
        return _size(obj.available_capacity)

    @admin.action(description="Reconnect (log in, check the folder, read capacity)")
    def reconnect(self, request, queryset):
        self.run_action(request, queryset, services.reconnect_backup_storage)

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in BackupStorageForm.Meta.fields if f in form.cleaned_data}
        secrets = {k: form.cleaned_data[k] for k in ("password", "private_key") if form.cleaned_data.get(k)}
        if change:
            saved = services.update_backup_storage(obj, user=request.user, **data, **secrets)
        else:
            saved, job = services.add_backup_storage(user=request.user, **data, **secrets)
            self.started_jobs(request, [job])
        obj.pk = saved.pk
        obj._state.adding = False


@admin.register(Volume)
class VolumeAdmin(ServiceAdmin):
    list_display = ["name", "type", "primary_storage", "image", "size_shown", "state", "created"]
    list_filter = ["type", "state", "primary_storage"]
    search_fields = ["name", "description", "install_path"]
    list_select_related = ["primary_storage", "image"]
    fields = ["name", "description", "type", "primary_storage", "host", "image", "size_shown", "actual_size_shown",
              "install_path", "state"]
    readonly_fields = ["type", "primary_storage", "host", "image", "size_shown", "actual_size_shown", "install_path",
                       "state"]
    update_service = volumes.update_volume

    def has_add_permission(self, request):
        return False

    @admin.display(description="size", ordering="size")
    def size_shown(self, obj):
        return _size(obj.size)

    @admin.display(description="actual size")
    def actual_size_shown(self, obj):
        return _size(obj.actual_size)

    def delete_model(self, request, obj):
        self.started_jobs(request, [volumes.start_delete_volume(obj, user=request.user)])

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            volumes.start_delete_volume(obj, user=request.user)
