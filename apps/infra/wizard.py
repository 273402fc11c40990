"""The cluster wizard: create the cluster, then offer to attach primary storage and L2 networks.

Each step is an HTMX partial swapped into the same page; every step calls the same service
functions as the API (so each attach is its own job and its own notification). A step with
nothing to offer (no primary storage, no L2 network in the zone yet) is skipped and says so.
"""

from django import forms
from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import get_object_or_404, render

from apps.core.jobs import EXPECTED_ERRORS, describe_error

from . import services
from .models import Cluster


class ClusterForm(forms.ModelForm):
    class Meta:
        model = Cluster
        fields = ["name", "description", "zone", "hypervisor_type"]


def _storages(cluster):
    from apps.storage.models import PrimaryStorage

    return PrimaryStorage.objects.filter(zone=cluster.zone).exclude(attachments__cluster=cluster).order_by("name")


def _l2_networks(cluster):
    from apps.networks.models import L2Network

    return L2Network.objects.filter(zone=cluster.zone).exclude(cluster_refs__cluster=cluster).order_by("name")


def _context(request, **extra):
    return {"title": "Create cluster", "site_header": "Nimbo", "has_permission": True, "is_popup": False, **extra}


@staff_member_required
def cluster_wizard(request):
    """Step 1: the cluster itself."""
    form = ClusterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            cluster = services.create_cluster(user=request.user, **form.cleaned_data)
        except EXPECTED_ERRORS as exc:
            message, field = describe_error(exc)
            form.add_error(field if field in form.fields else None, message)
        else:
            return _storage_step(request, cluster)
    template = "infra/cluster_wizard_step1.html" if request.htmx else "infra/cluster_wizard.html"
    return render(request, template, _context(request, form=form))


def _storage_step(request, cluster, errors=()):
    return render(request, "infra/cluster_wizard_storage.html",
                  _context(request, cluster=cluster, storages=_storages(cluster), errors=errors))


def _l2_step(request, cluster, errors=(), jobs=()):
    return render(request, "infra/cluster_wizard_l2.html",
                  _context(request, cluster=cluster, networks=_l2_networks(cluster), errors=errors, jobs=jobs))


@staff_member_required
def cluster_wizard_storage(request, uuid):
    """Step 2: attach primary storage (each attach is a job that mounts it on the hosts)."""
    from apps.storage.services import attach_primary_storage

    cluster = get_object_or_404(Cluster, pk=uuid)
    if request.method != "POST":
        return _storage_step(request, cluster)
    jobs, errors = [], []
    for storage in _storages(cluster).filter(pk__in=request.POST.getlist("primary_storages")):
        try:
            jobs.append(attach_primary_storage(storage, cluster, user=request.user))
        except EXPECTED_ERRORS as exc:
            errors.append(f"{storage}: {describe_error(exc)[0]}")
    if errors:
        return _storage_step(request, cluster, errors)
    return _l2_step(request, cluster, jobs=jobs)


@staff_member_required
def cluster_wizard_l2(request, uuid):
    """Step 3: attach L2 networks (their bridges are built on the cluster's hosts)."""
    from apps.networks.services import attach_l2_network_to_cluster

    cluster = get_object_or_404(Cluster, pk=uuid)
    if request.method != "POST":
        return _l2_step(request, cluster)
    attached, errors = [], []
    for l2 in _l2_networks(cluster).filter(pk__in=request.POST.getlist("l2_networks")):
        try:
            attach_l2_network_to_cluster(l2, cluster, user=request.user)
            attached.append(l2)
        except EXPECTED_ERRORS as exc:
            errors.append(f"{l2}: {describe_error(exc)[0]}")
    if errors:
        return _l2_step(request, cluster, errors)
    return render(request, "infra/cluster_wizard_done.html", _context(request, cluster=cluster, attached=attached))
