from django.db import models


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class EnabledState(models.TextChoices):
    ENABLED = "Enabled", "Enabled"
    DISABLED = "Disabled", "Disabled"
