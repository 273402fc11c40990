"""An L3 network's picture, as Horizon's network topology shows it: the public network with its VIPs
on top, the virtual router with its two legs, the L3 itself, and its VMs with their addresses below;
dashed arrows from a VIP to the VM it forwards to. Pure layout (rows in, boxes and lines out); the
template draws it as SVG.
"""

from apps.core.admin import state_tone

BOX_W, BOX_H, GAP = 170, 54, 24
TOP_BAR, ROUTER_Y, L3_BAR, VM_Y = 96, 132, 230, 268


def _column(i):
    return 20 + i * (BOX_W + GAP)


def l3_topology(l3):
    from apps.compute.models import VmNic
    from apps.vrouter.models import Eip, PortForwardingRule, VirtualRouter

    router = VirtualRouter.objects.filter(l3_network=l3).select_related("public_l3").first()
    nics = list(VmNic.objects.filter(l3_network=l3, vm_instance__type="UserVm").select_related("vm_instance")
                .prefetch_related("security_groups").order_by("vm_instance__name"))
    rules = list(PortForwardingRule.objects.filter(vm_nic__l3_network=l3).select_related("vip").order_by("name"))
    eips = list(Eip.objects.filter(vm_nic__l3_network=l3).select_related("vip").order_by("name"))
    vips = {}
    for item in [*rules, *eips]:
        vips.setdefault(item.vip_id, item.vip)
    vips = sorted(vips.values(), key=lambda v: v.name)

    columns = max(len(nics), len(vips), 1)
    width = (columns + 1) * (BOX_W + GAP) + 20  # the router has the last column: no arrow crosses it
    boxes, lines, bars = [], [], []
    public = router.public_l3 if router and router.public_l3_id else None
    if public or vips:
        label = f"{public.name if public else 'public'} (public)"
        bars.append({"x": 10, "y": TOP_BAR, "w": width - 20, "label": label})
    bars.append({"x": 10, "y": L3_BAR, "w": width - 20, "label": f"{l3.name} {l3.dns_domain or ''}".strip()})

    vip_at = {}
    for i, vip in enumerate(vips):
        x = _column(i)
        vip_at[vip.pk] = (x + BOX_W / 2, 20 + BOX_H)
        boxes.append({"x": x, "y": 20, "title": f"VIP {vip.name}", "text": vip.ip, "tone": "idle", "kind": "vip"})
        lines.append({"x1": x + BOX_W / 2, "y1": 20 + BOX_H, "x2": x + BOX_W / 2, "y2": TOP_BAR, "dash": False,
                      "label": ""})

    if router:
        x = _column(columns)
        boxes.append({"x": x, "y": ROUTER_Y, "title": f"Router {router.name}", "text": router.state,
                      "tone": state_tone(router.state), "kind": "router"})
        if public:
            lines.append({"x1": x + BOX_W / 2, "y1": TOP_BAR, "x2": x + BOX_W / 2, "y2": ROUTER_Y, "dash": False,
                          "label": router.public_address or ""})
        lines.append({"x1": x + BOX_W / 2, "y1": ROUTER_Y + BOX_H, "x2": x + BOX_W / 2, "y2": L3_BAR,
                      "dash": False, "label": router.address or ""})

    nic_at = {}
    for i, nic in enumerate(nics):
        x = _column(i)
        vm = nic.vm_instance
        groups = ", ".join(g.name for g in nic.security_groups.all())
        nic_at[nic.pk] = (x + BOX_W / 2, VM_Y)
        boxes.append({"x": x, "y": VM_Y, "title": vm.name, "text": f"{nic.ip or '-'}  {vm.state}",
                      "sub": f"groups: {groups}" if groups else "", "tone": state_tone(vm.state), "kind": "vm",
                      "pk": str(vm.pk)})
        lines.append({"x1": x + BOX_W / 2, "y1": L3_BAR, "x2": x + BOX_W / 2, "y2": VM_Y, "dash": False,
                      "label": ""})

    for item in [*rules, *eips]:
        if item.vip_id in vip_at and item.vm_nic_id in nic_at:
            (x1, y1), (x2, y2) = vip_at[item.vip_id], nic_at[item.vm_nic_id]
            label = (f"{item.protocol} {item.vip_port_start}→{item.guest_port_start}"
                     if isinstance(item, PortForwardingRule) else "EIP")
            lines.append({"x1": x1 + 12, "y1": y1, "x2": x2 + 12, "y2": y2, "dash": True, "label": label})

    height = VM_Y + BOX_H + 30
    return {"width": width, "height": height, "boxes": boxes, "lines": lines, "bars": bars,
            "box_w": BOX_W, "box_h": BOX_H}
