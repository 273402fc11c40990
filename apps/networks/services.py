"""Operations on L2 and L3 networks, IP ranges, DNS and network services: the only place they change.

IP addresses themselves are handed out by apps.networks.ipam (allocate_ip / release_ip).
"""

from django.core.exceptions import ValidationError
from django.db.models import Max

from apps.core.exceptions import Conflict, InUse, InvalidInput, NotFound
from apps.core.jobs import operation
from apps.core.services import create_object, delete_object, update_object

from .choices import PROVIDER_SERVICES, Provider, ServiceType
from .models import IpRange, L2Network, L2NetworkClusterRef, L3DnsServer, L3Network, NetworkService, UsedIp
from .models.ipam import cidr_to_range

# --- L2 networks -----------------------------------------------------------------------------------


@operation("createL2Network")
def create_l2_network(**fields):
    return create_object(L2Network, fields)


@operation("updateL2Network", target="l2")
def update_l2_network(l2, **fields):
    return update_object(l2, fields, frozen=("zone", "type", "physical_interface", "vlan"))


@operation("deleteL2Network", target="l2")
def delete_l2_network(l2):
    """Refused (409) while the network is attached to a cluster or carries L3 networks."""
    clusters = [ref.cluster.name for ref in l2.cluster_refs.select_related("cluster").order_by("cluster__name")]
    if clusters:
        raise InUse(f"L2 network {l2} is attached to cluster {', '.join(clusters)}; detach it first.")
    l3s = list(l2.l3_networks.order_by("name").values_list("name", flat=True))
    if l3s:
        raise InUse(f"L2 network {l2} still carries L3 network {', '.join(l3s)}.")
    delete_object(l2)


@operation("attachL2NetworkToCluster", target="l2")
def attach_l2_network_to_cluster(l2, cluster, user=None):
    if cluster.zone_id != l2.zone_id:
        raise InvalidInput(f"Cluster {cluster} is in zone {cluster.zone}, not in the L2 network's zone {l2.zone}.",
                           field="cluster")
    if L2NetworkClusterRef.objects.filter(l2_network=l2, cluster=cluster).exists():
        raise Conflict(f"L2 network {l2} is already attached to cluster {cluster}.", field="cluster")
    vlan_key = l2.vlan or 0
    clash = (L2NetworkClusterRef.objects.select_related("l2_network")
             .filter(cluster=cluster, physical_interface=l2.physical_interface, vlan_key=vlan_key).first())
    if clash is not None:
        wire = f"interface {l2.physical_interface}" + (f" VLAN {l2.vlan}" if l2.vlan else "")
        raise Conflict(f"Cluster {cluster} already has L2 network {clash.l2_network} on {wire}.", field="cluster")
    L2NetworkClusterRef.objects.create(l2_network=l2, cluster=cluster, physical_interface=l2.physical_interface,
                                       vlan_key=vlan_key)
    _realise(l2, cluster, user, attach=True)
    return l2


def _realise(l2, cluster, user, *, attach):
    """Build (or remove unused) bridges on the cluster's hosts: a job of its own, after commit.

    A cluster without hosts needs nothing now: hosts build the bridges of their cluster's L2
    networks when they connect.
    """
    from apps.infra.services import start_realise_l2, start_unrealise_l2

    if cluster.hosts.exists():
        (start_realise_l2 if attach else start_unrealise_l2)(l2, cluster, user=user)


@operation("detachL2NetworkFromCluster", target="l2")
def detach_l2_network_from_cluster(l2, cluster, user=None):
    """Refused while VMs placed in the cluster have NICs on the network's L3 networks."""
    from apps.compute.models import VmNic

    ref = L2NetworkClusterRef.objects.filter(l2_network=l2, cluster=cluster).first()
    if ref is None:
        raise Conflict(f"L2 network {l2} is not attached to cluster {cluster}.", field="cluster")
    nic = (VmNic.objects.select_related("vm_instance")
           .filter(l3_network__l2_network=l2, vm_instance__cluster=cluster)
           .exclude(vm_instance__state="Destroyed").first())
    if nic is not None:
        raise InUse(f"VM {nic.vm_instance} in cluster {cluster} still uses L2 network {l2}.", field="cluster")
    ref.delete()
    _realise(l2, cluster, user, attach=False)
    return l2


# --- L3 networks -----------------------------------------------------------------------------------


@operation("createL3Network")
def create_l3_network(**fields):
    return create_object(L3Network, fields)


@operation("updateL3Network", target="l3")
def update_l3_network(l3, **fields):
    return update_object(l3, fields, frozen=("l2_network", "type"))


@operation("deleteL3Network", target="l3")
def delete_l3_network(l3):
    """Deletes its IP ranges, DNS servers and services with it, and its virtual router (removed from its host,
    its addresses released) once no VM uses the L3; refused (409) while any other address, VM NIC, VIP or
    router offering uses it."""
    from apps.vrouter.models import VirtualRouter
    from apps.vrouter.routers import delete_router

    vr = VirtualRouter.objects.filter(l3_network=l3).select_related("host__cluster").first()
    if vr is not None:
        delete_router(vr)
    _refuse_used_addresses(UsedIp.objects.filter(l3_network=l3), f"L3 network {l3}")
    delete_object(l3)


def _refuse_used_addresses(used, what):
    count = used.count()
    if count:
        sample = ", ".join(used.order_by("ip_int").values_list("ip", flat=True)[:3])
        more = f" and {count - 3} more" if count > 3 else ""
        raise InUse(f"{what} still has {count} address{'es' if count > 1 else ''} in use: {sample}{more}.")


# --- IP ranges -------------------------------------------------------------------------------------

RANGE_FIELDS = ("start_ip", "end_ip", "netmask", "gateway")


@operation("addIpRange", target="l3")
def add_ip_range(l3, *, name, network_cidr=None, description="", **fields):
    """Add a range by start_ip/end_ip/netmask/gateway, or by network_cidr (gateway = first usable address)."""
    given = {k: v for k, v in fields.items() if k in RANGE_FIELDS and v not in (None, "")}
    if network_cidr:
        if given:
            raise InvalidInput("Give either network_cidr or start_ip/end_ip/netmask/gateway, not both.",
                               field="network_cidr")
        given = cidr_to_range(network_cidr)
    else:
        for field in RANGE_FIELDS:
            if field not in given:
                raise ValidationError({field: "This field is required (or give network_cidr)."})
    return create_object(IpRange, {"l3_network": l3, "name": name, "description": description, **given})


@operation("updateIpRange", target="ip_range")
def update_ip_range(ip_range, **fields):
    return update_object(ip_range, fields, frozen=("l3_network", *RANGE_FIELDS))


@operation("deleteIpRange", target="ip_range")
def delete_ip_range(ip_range):
    """Refused (409) while any address of the range is in use: nothing in use is released."""
    _refuse_used_addresses(ip_range.used_ips.all(), f"IP range {ip_range}")
    delete_object(ip_range)


# --- DNS -------------------------------------------------------------------------------------------


@operation("addDnsToL3Network", target="l3")
def add_dns(l3, *, dns):
    """Append a DNS server (kept in the order added; the same address twice is refused)."""
    if l3.dns_servers.filter(address=dns).exists():
        raise Conflict(f"DNS server {dns} is already on L3 network {l3}.", field="dns", code="duplicate")
    position = (l3.dns_servers.aggregate(m=Max("position"))["m"] or 0) + 1
    create_object(L3DnsServer, {"l3_network": l3, "address": dns, "position": position})
    return l3


@operation("removeDnsFromL3Network", target="l3")
def remove_dns(l3, *, dns):
    deleted, _ = l3.dns_servers.filter(address=dns).delete()
    if not deleted:
        raise NotFound(f"DNS server {dns} is not on L3 network {l3}.", field="dns")
    return l3


# --- Network services ------------------------------------------------------------------------------


@operation("attachNetworkServiceToL3Network", target="l3")
def attach_network_services(l3, *, services):
    """`services`: {provider: [service type, ...]}, e.g. {"VirtualRouter": ["DHCP", "DNS"]}."""
    if not isinstance(services, dict) or not services:
        raise InvalidInput("Give services as {provider: [service type, ...]}.", field="services")
    seen = set()
    for provider, types in services.items():
        if provider not in Provider.values:
            raise InvalidInput(f"Unknown network service provider {provider}; known: "
                               f"{', '.join(Provider.values)}.", field="services")
        if isinstance(types, str) or not isinstance(types, (list, tuple)) or not types:
            raise InvalidInput(f"Give the service types of {provider} as a non-empty list.", field="services")
        for service_type in types:
            if service_type not in ServiceType.values:
                raise InvalidInput(f"Unknown network service type {service_type}.", field="services")
            if service_type not in PROVIDER_SERVICES[provider]:
                raise InvalidInput(f"Provider {provider} does not offer {service_type}; it offers "
                                   f"{', '.join(PROVIDER_SERVICES[provider])}.", field="services")
            if service_type in seen:
                raise InvalidInput(f"{service_type} is given twice.", field="services")
            seen.add(service_type)
    existing = l3.network_services.filter(service_type__in=seen).first()
    if existing is not None:
        raise Conflict(f"{existing.service_type} is already offered on L3 network {l3} by {existing.provider}.",
                       field="services")
    for provider, types in services.items():
        for service_type in types:
            create_object(NetworkService, {"l3_network": l3, "provider": provider, "service_type": service_type})
    return l3


@operation("detachNetworkServiceFromL3Network", target="l3")
def detach_network_service(l3, *, service_type):
    service = l3.network_services.filter(service_type=service_type).first()
    if service is None:
        raise NotFound(f"{service_type} is not offered on L3 network {l3}.", field="service_type")
    from apps.vrouter.models import Eip, PortForwardingRule

    users = {ServiceType.PORT_FORWARDING: PortForwardingRule.objects.filter(vm_nic__l3_network=l3),
             ServiceType.EIP: Eip.objects.filter(vm_nic__l3_network=l3)}
    user = users[service_type].first() if service_type in users else None
    if user is not None:
        raise InUse(f"{user._meta.verbose_name.capitalize()} {user} still uses {service_type} on L3 network {l3}.",
                    field="service_type")
    service.delete()
    return l3
