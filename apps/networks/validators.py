"""Validators shared by the network models (and by the VM and router models that point at them)."""

import ipaddress
import re

from django.core.exceptions import ValidationError

IFNAME_MAX = 15  # Linux IFNAMSIZ - 1
_IFNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_DNS_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def validate_interface_name(value):
    if len(value) > IFNAME_MAX or not _IFNAME.match(value):
        raise ValidationError(
            "Enter a Linux interface name: up to 15 letters, digits, '_', '.' or '-', such as eth0.", code="invalid"
        )


def validate_dns_label(value):
    """A host name as one DNS label (RFC 1123): letters, digits and '-', 1-63 characters."""
    if not _DNS_LABEL.match(value) or value.isdigit():
        raise ValidationError(
            "Enter a host name of 1-63 letters, digits or '-', not starting or ending with '-'.", code="invalid"
        )


def validate_dns_domain(value):
    """A DNS domain such as tutorials.zstack.org: dot-separated labels, at most 253 characters."""
    labels = value.rstrip(".").split(".") if value else []
    if (not labels or len(value) > 253 or not all(_DNS_LABEL.match(label) for label in labels)
            or labels[-1].isdigit()):
        raise ValidationError("Enter a DNS domain such as example.org.", code="invalid")


def validate_netmask(value):
    try:
        ipaddress.IPv4Network(f"0.0.0.0/{value}")
    except ValueError:
        raise ValidationError("Enter a valid IPv4 netmask such as 255.255.255.0.", code="invalid") from None
    if value.count(".") != 3:
        raise ValidationError("Enter a valid IPv4 netmask such as 255.255.255.0.", code="invalid")
