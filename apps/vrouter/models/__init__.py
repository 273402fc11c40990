from .nat import Eip, PortForwardingRule
from .offering import VirtualRouterOffering
from .router import VirtualRouter
from .vip import Vip

__all__ = ["VirtualRouterOffering", "VirtualRouter", "Vip", "PortForwardingRule", "Eip"]
