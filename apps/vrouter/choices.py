from django.db import models

from apps.core.choices import EnabledState  # noqa: F401 - re-exported for the router models


class Protocol(models.TextChoices):
    TCP = "TCP", "TCP"
    UDP = "UDP", "UDP"


class VipUse(models.TextChoices):
    PORT_FORWARDING = "PortForwarding", "Port forwarding"
    EIP = "Eip", "Elastic IP"
    SNAT = "SNAT", "Source NAT"


class RouterState(models.TextChoices):
    STARTING = "Starting", "Starting"
    RUNNING = "Running", "Running"
    DEGRADED = "Degraded", "Degraded (being repaired)"
    STOPPED = "Stopped", "Stopped"
    ERROR = "Error", "Error"
