from django.db import models


class L2Type(models.TextChoices):
    NO_VLAN = "L2NoVlanNetwork", "L2NoVlanNetwork (untagged, on the physical interface)"
    VLAN = "L2VlanNetwork", "L2VlanNetwork (802.1Q VLAN on the physical interface)"


class L3Type(models.TextChoices):
    BASIC = "L3BasicNetwork", "L3BasicNetwork"


class Provider(models.TextChoices):
    VIRTUAL_ROUTER = "VirtualRouter", "VirtualRouter"
    SECURITY_GROUP = "SecurityGroup", "SecurityGroup"


class ServiceType(models.TextChoices):
    DHCP = "DHCP", "DHCP"
    DNS = "DNS", "DNS"
    SNAT = "SNAT", "SNAT"
    PORT_FORWARDING = "PortForwarding", "Port forwarding"
    EIP = "Eip", "Elastic IP"
    SECURITY_GROUP = "SecurityGroup", "Security group"


# Which service types each provider offers (ZStack's network service providers).
PROVIDER_SERVICES = {
    Provider.VIRTUAL_ROUTER: (ServiceType.DHCP, ServiceType.DNS, ServiceType.SNAT, ServiceType.PORT_FORWARDING,
                              ServiceType.EIP),
    Provider.SECURITY_GROUP: (ServiceType.SECURITY_GROUP,),
}
