"""The cluster wizard: the cluster, then primary storage and L2 networks to attach, created at Finish.

One page; each step is an HTMX partial swapped in place (a plain POST without HTMX). What was typed
travels with the form as hidden fields, so Back keeps it and nothing exists before Finish, which
calls one service (infra.services.create_cluster_and_attach). A step with nothing to offer says so.
"""

from django.contrib import admin
from django.shortcuts import render

from apps.core.admin import add_refusal
from apps.core.jobs import EXPECTED_ERRORS
from apps.projects.portal import cloud_admin_required

from . import services
from .forms import AttachForm, ClusterForm
from .models import Cluster

STEPS = [("cluster", "Cluster"), ("storage", "Primary storage"), ("l2", "L2 networks")]


def _hidden(request, step):
    """What the other steps hold, carried as hidden inputs: the cluster's fields and the other step's choices."""
    shown = {"cluster": ClusterForm.Meta.fields, "storage": ["primary_storages"], "l2": ["l2_networks"]}.get(step, [])
    carried = [*ClusterForm.Meta.fields, "primary_storages", "l2_networks"]
    return [(name, value) for name in carried if name not in shown for value in request.POST.getlist(name)]


def _render(request, step, form, attach, **extra):
    context = {"hidden": _hidden(request, step) if request.method == "POST" else [],
               **admin.site.each_context(request), "title": "Create cluster", "opts": Cluster._meta,
               "steps": STEPS, "step": step, "form": form, "attach": attach, **extra}
    template = "infra/cluster_wizard_form.html" if request.htmx else "infra/cluster_wizard.html"
    return render(request, template, context)


@cloud_admin_required
def cluster_wizard(request):
    if request.method != "POST":
        return _render(request, "cluster", ClusterForm(), AttachForm())
    target = request.POST.get("_to", "cluster")
    form = ClusterForm(request.POST)
    if target == "cluster":  # Back to step 1: what was typed, without complaints
        return _render(request, "cluster", ClusterForm(initial=request.POST.dict()), AttachForm(request.POST))
    if not form.is_valid():
        return _render(request, "cluster", form, AttachForm(request.POST))
    attach = AttachForm(request.POST, zone=form.cleaned_data["zone"])
    attach.is_valid()
    if target in ("storage", "l2"):
        return _render(request, target, form, attach)
    chosen = {name: list(attach.cleaned_data.get(name) or []) for name in ("primary_storages", "l2_networks")}
    try:
        cluster, jobs = services.create_cluster_and_attach(user=request.user, **form.cleaned_data, **chosen)
    except EXPECTED_ERRORS as exc:
        add_refusal(form, exc)
        return _render(request, "cluster", form, attach)
    return _render(request, "done", form, attach, cluster=cluster, jobs=jobs, attached=chosen["l2_networks"])
