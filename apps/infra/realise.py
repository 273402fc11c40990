"""Making hosts match what their cluster has: L2 bridges now, storage and more through hooks.

- `realise_l2_on_cluster(l2, cluster)` builds the L2 network's bridge on every connected host of
  the cluster (`br_<if>` for a NoVlan network, `<if>.<vlan>` + `br_<if>_<vlan>` for a VLAN one);
  `unrealise_l2_on_cluster(l2, cluster)` removes them where nothing uses them any more. The
  network services call them when an L2 network is attached to or detached from a cluster.
- `on_host_connected(ctx, host)` runs when a host (re)connects: it realises the cluster's L2
  networks on it, mounts the cluster's primary storage, then runs every hook registered with
  `register_host_connected_hook` (firewall, guests...), each as a job step.
- As jobs: `start_realise_l2(l2, cluster, user=...)` / `start_unrealise_l2(...)` (apps.infra.services)
  run these on a worker, for callers that answer 202.
"""

import logging

from .agent import call_host
from .choices import HostStatus

log = logging.getLogger("nimbo.infra.realise")
_HOST_CONNECTED_HOOKS = []


def register_host_connected_hook(name, func):
    """`func(host)` runs, as the job step `name`, whenever a host connects (call from AppConfig.ready)."""
    if all(existing is not func for _, existing in _HOST_CONNECTED_HOOKS):
        _HOST_CONNECTED_HOOKS.append((name, func))


def l2_spec(l2):
    """The plain data the agent needs: {"interface": "eth0", "vlan": 100 or None}."""
    return {"interface": l2.physical_interface, "vlan": getattr(l2, "vlan", None) or None}


def connected_hosts(cluster):
    return list(cluster.hosts.filter(status=HostStatus.CONNECTED).select_related("cluster"))


def realise_l2_on_host(host, specs):
    """Build the bridges of these L2 specs on one host; the names of the bridges."""
    return [call_host(host, "network.ensure_l2", spec, timeout=60)["bridge"] for spec in specs]


def realise_l2_on_cluster(l2, cluster):
    """Build `l2`'s bridge on every connected host of `cluster`: {host name: bridge name}."""
    spec = l2_spec(l2)
    return {host.name: call_host(host, "network.ensure_l2", spec, timeout=60)["bridge"]
            for host in connected_hosts(cluster)}


def unrealise_l2_on_cluster(l2, cluster):
    """Remove `l2`'s bridge from the cluster's connected hosts where nothing is plugged into it.

    {host name: {"bridge", "removed", "in_use"}}; a bridge still carrying guests stays.
    """
    spec = l2_spec(l2)
    return {host.name: call_host(host, "network.remove_l2", spec, timeout=60) for host in connected_hosts(cluster)}


def cluster_l2_specs(cluster):
    """The L2 networks attached to `cluster`, as specs."""
    from apps.networks.models import L2NetworkClusterRef

    refs = L2NetworkClusterRef.objects.filter(cluster=cluster).order_by("physical_interface", "vlan_key")
    return [{"interface": ref.physical_interface, "vlan": ref.vlan_key or None} for ref in refs]


def _mount_primary_storage(host):
    from apps.storage.services import mount_primary_storages_of_host

    mount_primary_storages_of_host(host)


def on_host_connected(ctx, host):
    """A host (re)connected: its cluster's L2 bridges, primary storage mounts, then registered hooks."""
    specs = cluster_l2_specs(host.cluster)
    if specs:
        with ctx.step(f"Build the bridges of {len(specs)} L2 network(s)", progress=93):
            realise_l2_on_host(host, specs)
    from apps.storage.models import PrimaryStorage

    if PrimaryStorage.objects.filter(attachments__cluster=host.cluster_id).exists():
        with ctx.step("Mount the cluster's primary storage", progress=96):
            _mount_primary_storage(host)
    for name, func in _HOST_CONNECTED_HOOKS:
        with ctx.step(name):
            func(host)
