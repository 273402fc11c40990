from django.db import models


class AllocatorStrategy(models.TextChoices):
    DEFAULT = "DefaultHostAllocatorStrategy", "Default (first host with room)"
    LEAST_USED = "LeastUsedHostAllocatorStrategy", "Least used host"
    LAST_HOST = "LastHostPreferredAllocatorStrategy", "Prefer the last host"
