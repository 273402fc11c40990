from django.contrib import admin

from apps.core.admin import ServiceAdmin

from . import services
from .models import InstanceOffering


@admin.register(InstanceOffering)
class InstanceOfferingAdmin(ServiceAdmin):
    list_display = ["name", "cpu_num", "cpu_speed", "memory", "allocator_strategy", "created"]
    list_filter = ["cpu_num", "allocator_strategy"]
    search_fields = ["name", "description"]
    fields = ["name", "description", "cpu_num", "cpu_speed", "memory_size", "allocator_strategy"]
    create_service = services.create_instance_offering
    update_service = services.update_instance_offering
    delete_service = services.delete_instance_offering

    @admin.display(description="memory", ordering="memory_size")
    def memory(self, obj):
        from apps.core.fields import format_size

        return format_size(obj.memory_size)
