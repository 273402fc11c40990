"""What a VM NIC's firewall looks like: the group rules that apply and the rules its host really has."""

from .api.serializers import RuleSerializer
from .compile import l2_chain, nic_chains
from .models import HostFirewall, SecurityGroupNicRef
from .sync import deliver


def nic_firewall(nic):
    """Groups with their rules, the live chains read back from the NIC's host, and the last drift."""
    refs = (SecurityGroupNicRef.objects.filter(vm_nic=nic).select_related("security_group")
            .prefetch_related("security_group__rules"))
    groups = [{"uuid": str(r.security_group.uuid), "name": r.security_group.name,
               "rules": RuleSerializer(r.security_group.rules.all(), many=True).data} for r in refs]
    host = nic.vm_instance.host
    data = {"nic": str(nic.pk), "host": str(host.pk) if host else None, "groups": groups,
            "chains": [*nic_chains(nic.pk), l2_chain(nic.pk)] if groups else [], "realised": None,
            "read_back_error": "", "drift": "", "pending": ""}
    if host is None or not groups:
        return data
    try:
        data["realised"] = deliver(host, "read_back", str(nic.pk))
    except Exception as exc:  # noqa: BLE001 - the host may be down: say so next to the group rules
        data["read_back_error"] = str(exc)
    state = HostFirewall.objects.filter(host=host).first()
    if state:
        data["drift"] = state.drift_by_nic.get(str(nic.pk), "")
        if state.failures:  # the last apply failed: what was asked is not on the host yet (retries run)
            data["pending"] = (f"Not applied yet: {state.failures} failed "
                               f"attempt{'s' if state.failures != 1 else ''}, retrying; last error: {state.last_error}")
    return data
