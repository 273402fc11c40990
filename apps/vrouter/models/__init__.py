from .nat import Eip, PortForwardingRule
from .offering import VirtualRouterOffering
from .vip import Vip

__all__ = ["VirtualRouterOffering", "Vip", "PortForwardingRule", "Eip"]
