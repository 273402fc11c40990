"""Quotas per project, checked inside the transaction that creates the object.

`charge(project, model, fields)` locks the project's row (SELECT ... FOR UPDATE on PostgreSQL;
SQLite's IMMEDIATE transactions already serialise writers), counts what the project uses and
refuses with 409 naming the quota, its limit and its use. Creates of one project therefore queue
on that lock for the few milliseconds of their transaction, and N parallel creates stop exactly
at the limit. create_object() calls it for every model that costs quota.
"""

from django.db.models import Sum

from apps.core.exceptions import Conflict

from .models import QUOTA_DEFAULTS, Project, Quota, QuotaName


class QuotaExceeded(Conflict):
    code = "quota_exceeded"


def _vm_cost(fields):
    from apps.compute.choices import VmType

    offering = fields.get("instance_offering")
    if fields.get("type", VmType.USER) != VmType.USER or offering is None:
        return {}
    return {QuotaName.VM_NUM: 1, QuotaName.VM_CPU_NUM: offering.cpu_num, QuotaName.VM_MEMORY_SIZE: offering.memory_size}


def _volume_cost(fields):
    from apps.storage.choices import VolumeType

    return {QuotaName.VOLUME_DATA_NUM: 1} if fields.get("type", VolumeType.DATA) == VolumeType.DATA else {}


# model label -> what creating one row with these fields costs
COSTS = {
    "compute.vminstance": _vm_cost,
    "storage.volume": _volume_cost,
    "networks.l3network": lambda fields: {QuotaName.L3_NUM: 1},
    "secgroups.securitygroup": lambda fields: {QuotaName.SECURITY_GROUP_NUM: 1},
    "vrouter.vip": lambda fields: {QuotaName.VIP_NUM: 1},
    "vrouter.eip": lambda fields: {QuotaName.EIP_NUM: 1},
    "vrouter.portforwardingrule": lambda fields: {QuotaName.PORT_FORWARDING_NUM: 1},
}


def _user_vms(project):
    from apps.compute.choices import VmType
    from apps.compute.models import VmInstance

    return VmInstance.objects.filter(project=project, type=VmType.USER)


def usage(project, name):
    """What `project` uses of quota `name` now."""
    from apps.networks.models import L3Network
    from apps.secgroups.models import SecurityGroup
    from apps.storage.choices import VolumeType
    from apps.storage.models import Volume
    from apps.vrouter.models import Eip, PortForwardingRule, Vip

    if name == QuotaName.VM_NUM:
        return _user_vms(project).count()
    if name == QuotaName.VM_CPU_NUM:
        return _user_vms(project).aggregate(n=Sum("instance_offering__cpu_num"))["n"] or 0
    if name == QuotaName.VM_MEMORY_SIZE:
        return _user_vms(project).aggregate(n=Sum("instance_offering__memory_size"))["n"] or 0
    counted = {
        QuotaName.VOLUME_DATA_NUM: Volume.objects.filter(type=VolumeType.DATA),
        QuotaName.L3_NUM: L3Network.objects.all(),
        QuotaName.SECURITY_GROUP_NUM: SecurityGroup.objects.all(),
        QuotaName.VIP_NUM: Vip.objects.all(),
        QuotaName.EIP_NUM: Eip.objects.all(),
        QuotaName.PORT_FORWARDING_NUM: PortForwardingRule.objects.all(),
    }
    return counted[name].filter(project=project).count()


def limits(project):
    """{quota name: limit} of a project: its own rows over ZStack's defaults."""
    values = {str(k): v for k, v in QUOTA_DEFAULTS.items()}
    values.update(dict(Quota.objects.filter(project=project).values_list("name", "limit")))
    return values


def report(project):
    """[{"name", "limit", "used"}] for every quota of a project (the API and the portal show it)."""
    given = limits(project)
    return [{"name": str(name), "limit": given[str(name)], "used": usage(project, name)} for name in QuotaName]


def charge(project, model, fields):
    """Refuse creating a `model` row with `fields` in `project` if it would exceed a quota.

    Must run inside the creating transaction (it takes the project's lock until commit).
    """
    cost_of = COSTS.get(model._meta.label_lower)
    if project is None or cost_of is None:
        return
    cost = cost_of(fields)
    if not cost:
        return
    Project.objects.select_for_update().filter(pk=project.pk).values_list("pk", flat=True).first()
    given = limits(project)
    for name, amount in cost.items():
        limit, used = given[str(name)], usage(project, name)
        if used + amount > limit:
            raise QuotaExceeded(
                f"Quota {name} of project {project} exceeded: limit {limit}, used {used}, this needs {amount} more.",
                field=str(name))


def set_quota(project, name, limit):
    if name not in QuotaName.values:
        from apps.core.exceptions import InvalidInput

        raise InvalidInput(f"Unknown quota {name}; quotas are {', '.join(QuotaName.values)}.", field="name")
    quota, _ = Quota.objects.update_or_create(project=project, name=name, defaults={"limit": limit})
    quota.full_clean()
    return quota
