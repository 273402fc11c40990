from .ipam import IpRange, UsedIp
from .l2 import L2Network, L2NetworkClusterRef
from .l3 import L3DnsServer, L3Network, NetworkService

__all__ = ["L2Network", "L2NetworkClusterRef", "L3Network", "L3DnsServer", "NetworkService", "IpRange", "UsedIp"]
