"""Test data builders: make_zone(), make_cluster()... Each app's work adds its own here."""

from apps.compute.models import InstanceOffering
from apps.infra.models import Cluster, Host, Zone

__all__ = [
    "make_zone", "make_cluster", "make_offering",
    # networks and VMs
    "make_image", "make_l2", "make_l3", "make_ip_range", "make_vm", "make_nic",
    "make_vr_offering", "make_vip",
    # storage
    "make_primary_storage", "make_local_backup_storage",
    # hosts
    "make_host",
]


def make_zone(name="ZONE1", **fields):
    return Zone.objects.create(name=name, **fields)


def make_cluster(zone=None, name="CLUSTER1", **fields):
    return Cluster.objects.create(zone=zone or make_zone(), name=name, **fields)


def make_offering(name="512M-512HZ", **fields):
    fields = {"cpu_num": 1, "cpu_speed": 512, "memory_size": 512 * 1024**2, **fields}
    return InstanceOffering.objects.create(name=name, **fields)


def make_image(name="zs-sample-image", **fields):
    from apps.images.models import Image

    fields = {"url": f"http://example.org/{name}.qcow2", "state": "Ready", **fields}
    return Image.objects.create(name=name, **fields)


def make_l2(zone=None, name="FLAT-L2", interface="eth0", vlan=None, clusters=(), **fields):
    """An L2 network (L2VlanNetwork when `vlan` is given), attached to `clusters`."""
    from apps.networks.models import L2Network, L2NetworkClusterRef

    l2 = L2Network.objects.create(
        zone=zone or (clusters[0].zone if clusters else make_zone()), name=name, physical_interface=interface,
        vlan=vlan, type="L2VlanNetwork" if vlan else "L2NoVlanNetwork", **fields)
    for cluster in clusters:
        L2NetworkClusterRef.objects.create(l2_network=l2, cluster=cluster, physical_interface=interface,
                                           vlan_key=vlan or 0)
    return l2


def make_l3(l2=None, name="FLAT-L3", services=(), cidr=None, dns=(), **fields):
    """An L3 network; `services` as {"DHCP": "VirtualRouter", ...} or a list of types, `cidr` adds a range."""
    from apps.networks.choices import PROVIDER_SERVICES
    from apps.networks.models import L3DnsServer, L3Network, NetworkService

    l3 = L3Network.objects.create(l2_network=l2 or make_l2(), name=name, **fields)
    if not isinstance(services, dict):
        services = {t: next(p for p, types in PROVIDER_SERVICES.items() if t in types) for t in services}
    for service_type, provider in services.items():
        NetworkService.objects.create(l3_network=l3, provider=provider, service_type=service_type)
    for position, address in enumerate(dns):
        L3DnsServer.objects.create(l3_network=l3, address=address, position=position)
    if cidr:
        make_ip_range(l3, cidr=cidr)
    return l3


def make_ip_range(l3, name=None, cidr=None, **fields):
    from apps.networks.models import IpRange
    from apps.networks.models.ipam import cidr_to_range

    if cidr:
        fields = {**cidr_to_range(cidr), **fields}
    return IpRange.objects.create(l3_network=l3, name=name or f"{l3.name}-RANGE-{fields['start_ip']}", **fields)


def make_vm(name="VM1", l3s=(), zone=None, state="Running", **fields):
    """A user VM record with one NIC per L3 (addresses from IPAM), placed nowhere unless told."""
    from apps.compute.models import VmInstance

    zone = zone or (l3s[0].l2_network.zone if l3s else make_zone())
    fields.setdefault("instance_offering", InstanceOffering.objects.first() or make_offering())
    if "image" not in fields and fields.get("type", "UserVm") == "UserVm":
        from apps.images.models import Image

        fields["image"] = Image.objects.filter(system=False).first() or make_image()
    vm = VmInstance.objects.create(name=name, hostname=fields.pop("hostname", name.lower()), zone=zone,
                                   state=state, **fields)
    for index, l3 in enumerate(l3s):
        make_nic(vm, l3, device_index=index)
    return vm


def make_nic(vm, l3, ip=None, device_index=0):
    from apps.compute.models import VmNic
    from apps.networks.ipam import allocate_ip

    nic = VmNic(vm_instance=vm, l3_network=l3, device_index=device_index)
    used = allocate_ip(l3, requested=ip, owner=nic)
    nic.used_ip, nic.ip, nic.netmask, nic.gateway = used, used.ip, used.netmask, used.gateway
    nic.save()
    return nic


def make_vr_offering(l3, name="VR-OFFERING", public_l3=None, **fields):
    from apps.vrouter.models import VirtualRouterOffering

    fields = {"cpu_num": 1, "cpu_speed": 512, "memory_size": 512 * 1024**2, "is_default": True, **fields}
    if "image" not in fields:
        fields["image"] = make_image(name="VIRTUAL-ROUTER", system=True)
    return VirtualRouterOffering.objects.create(name=name, zone=l3.l2_network.zone, management_l3=l3,
                                                public_l3=public_l3 or l3, **fields)


def make_vip(l3, name="VIP1", ip=None, **fields):
    from apps.networks.ipam import allocate_ip
    from apps.vrouter.models import Vip

    vip = Vip(name=name, l3_network=l3, **fields)
    used = allocate_ip(l3, requested=ip, owner=vip)
    vip.used_ip, vip.ip, vip.netmask, vip.gateway = used, used.ip, used.netmask, used.gateway
    vip.save()
    return vip

def make_primary_storage(zone=None, name="PRIMARY-STORAGE1", url=None, type="LocalStorage", **fields):
    """A local-directory primary storage in a fresh temporary directory (not yet attached)."""
    import tempfile

    from apps.storage.models import PrimaryStorage

    storage = PrimaryStorage(zone=zone or make_zone(), name=name, type=type,
                             url=url or tempfile.mkdtemp(prefix="nimbo-ps-"), **fields)
    storage.full_clean()
    storage.save()
    return storage


def make_local_backup_storage(name="BACKUP-STORAGE1", folder=None, **fields):
    """A connected Local backup storage in a fresh temporary directory."""
    import tempfile

    from apps.storage.models import BackupStorage

    return BackupStorage.objects.create(name=name, type="Local", folder=folder or tempfile.mkdtemp(prefix="nimbo-bs-"),
                                        status="Connected", **fields)


def make_host(cluster=None, name="HOST1", management_ip="198.51.100.11", password="s3cret-Pw", **fields):
    """A host row (no connection: use apps.infra.services.add_host for the real path)."""
    fields = {"status": "Connected", "cpu_num": 2, "cpu_speed": 2000, "memory_size": 8 * 1024**3,
              "domain_type": "kvm", **fields}
    host = Host(cluster=cluster or make_cluster(), name=name, management_ip=management_ip, **fields)
    host.password = password
    host.save()
    return host
