"""Who may do what: projects, the users who belong to them (with a role each) and their quotas."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from apps.core.models import BaseModel

DEFAULT_PROJECT_NAME = "default"


class Role(models.TextChoices):
    MEMBER = "member", "Member"
    READER = "reader", "Reader"


class QuotaName(models.TextChoices):
    VM_NUM = "vm.num", "VMs"
    VM_CPU_NUM = "vm.cpuNum", "VM CPUs"
    VM_MEMORY_SIZE = "vm.memorySize", "VM memory (bytes)"
    VOLUME_DATA_NUM = "volume.data.num", "data volumes"
    L3_NUM = "l3.num", "L3 networks"
    SECURITY_GROUP_NUM = "securityGroup.num", "security groups"
    VIP_NUM = "vip.num", "VIPs"
    EIP_NUM = "eip.num", "EIPs"
    PORT_FORWARDING_NUM = "portForwarding.num", "port forwarding rules"


# ZStack's defaults for a new account.
QUOTA_DEFAULTS = {
    QuotaName.VM_NUM: 20,
    QuotaName.VM_CPU_NUM: 80,
    QuotaName.VM_MEMORY_SIZE: 80 * 1024**3,
    QuotaName.VOLUME_DATA_NUM: 40,
    QuotaName.L3_NUM: 20,
    QuotaName.SECURITY_GROUP_NUM: 20,
    QuotaName.VIP_NUM: 20,
    QuotaName.EIP_NUM: 20,
    QuotaName.PORT_FORWARDING_NUM: 20,
}


class Project(BaseModel):
    """A slice of the cloud: the VMs, volumes, security groups, VIPs, port forwarding rules, EIPs and
    images its members own. Cloud admins see every project; members and readers only theirs."""

    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="projects",
                                     blank=True, verbose_name="members")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["name"], name="%(app_label)s_%(class)s_unique_name")]
        # The cloud admin role: given to a user or a group in the admin (superusers have it anyway).
        permissions = [("administer_cloud", "Is a cloud admin (infrastructure and every project)")]


class Membership(models.Model):
    """A user's role in one project: member (uses and changes the project's resources) or reader."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships",
                             verbose_name="user")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships",
                                verbose_name="project")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER, verbose_name="role")
    is_default = models.BooleanField(default=False, verbose_name="default project",
                                     help_text="The user's current project when a request names none.")
    created = models.DateTimeField(auto_now_add=True, verbose_name="created")

    class Meta:
        ordering = ["project__name", "user__username"]
        constraints = [models.UniqueConstraint(fields=["user", "project"],
                                               name="%(app_label)s_%(class)s_unique_user_project")]

    def __str__(self):
        return f"{self.user} in {self.project} ({self.role})"


class Quota(models.Model):
    """A project's limit for one resource; a project without a row has ZStack's default."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="quotas", verbose_name="project")
    name = models.CharField(max_length=32, choices=QuotaName.choices, verbose_name="quota")
    limit = models.BigIntegerField(validators=[MinValueValidator(0)], verbose_name="limit")

    class Meta:
        ordering = ["project__name", "name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"],
                                               name="%(app_label)s_%(class)s_unique_project_name")]

    def __str__(self):
        return f"{self.project} {self.name}={self.limit}"


class LoginFailure(models.Model):
    """One refused login, kept for the throttling window (per user name and per client address)."""

    username = models.CharField(max_length=150, db_index=True, verbose_name="user name")
    address = models.GenericIPAddressField(null=True, blank=True, db_index=True, verbose_name="client address")
    created = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name="when")

    class Meta:
        ordering = ["-created"]

    def __str__(self):
        return f"{self.username} from {self.address or 'an unknown address'}"
