"""The L3 network wizard: create the network, then add its IP range, DNS and services on one page.

Every step calls the same service functions as the API and the admin; a refusal shows as the
step's form error. With HTMX each step swaps in place; without it, the page posts and redirects.
"""

from django.shortcuts import get_object_or_404, redirect, render

from apps.core.admin import add_refusal
from apps.core.jobs import EXPECTED_ERRORS
from apps.projects.portal import cloud_admin_required

from . import services
from .forms import DnsForm, IpRangeForm, L3CreateForm, ServicesForm
from .models import L3Network


def _call(form, service, *args, **kwargs):
    """Run a service; on refusal put its message on the form (on the field it names) and return None."""
    try:
        return service(*args, **kwargs)
    except EXPECTED_ERRORS as exc:
        add_refusal(form, exc)
        return None


def _steps_context(l3, **forms):
    l3 = L3Network.objects.prefetch_related("ip_ranges", "dns_servers", "network_services").select_related(
        "l2_network__zone").get(pk=l3.pk)
    return {"l3": l3, "opts": L3Network._meta,
            "range_form": forms.get("range_form") or IpRangeForm(initial={"name": f"{l3.name}-IP-RANGE"}),
            "dns_form": forms.get("dns_form") or DnsForm(), "services_form": forms.get("services_form")
            or ServicesForm(l3=l3)}


def _page(request, context):
    from django.contrib import admin

    context = {**admin.site.each_context(request), "title": "Create L3 network", "opts": L3Network._meta, **context}
    return render(request, "networks/l3_wizard.html", context)


@cloud_admin_required
def l3_wizard(request):
    """Step 1: create the L3 network."""
    form = L3CreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        l3 = _call(form, services.create_l3_network, user=request.user, **form.cleaned_data)
        if l3 is not None:
            if request.htmx:
                return render(request, "networks/l3_wizard_steps.html", _steps_context(l3))
            return redirect("networks:l3-wizard-step", l3.pk)
    template = "networks/l3_wizard_create.html" if request.htmx else None
    if template:
        return render(request, template, {"form": form})
    return _page(request, {"form": form})


@cloud_admin_required
def l3_wizard_step(request, uuid, step=None):
    """Steps 2-4 on an existing L3 network: POST to .../range/, .../dns/ or .../services/."""
    l3 = get_object_or_404(L3Network, pk=uuid)
    forms = {}
    if request.method == "POST":
        if step == "range":
            form = forms["range_form"] = IpRangeForm(request.POST)
            if form.is_valid() and _call(form, services.add_ip_range, l3, user=request.user, **form.service_kwargs()):
                forms.pop("range_form")
        elif step == "dns":
            form = forms["dns_form"] = DnsForm(request.POST)
            if form.is_valid() and _call(form, services.add_dns, l3, user=request.user, dns=form.cleaned_data["dns"]):
                forms.pop("dns_form")
        elif step == "services":
            form = forms["services_form"] = ServicesForm(request.POST, l3=l3)
            if form.is_valid():
                chosen = form.services()
                if not chosen:
                    form.add_error(None, "Choose at least one service.")
                elif _call(form, services.attach_network_services, l3, user=request.user, services=chosen):
                    forms.pop("services_form")
        if not request.htmx and not forms:
            return redirect("networks:l3-wizard-step", l3.pk)
    context = _steps_context(l3, **forms)
    if request.htmx:
        return render(request, "networks/l3_wizard_steps.html", context)
    return _page(request, context)
