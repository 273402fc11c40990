"""Rule validation as Neutron does it, each refusal naming the field at fault."""

import ipaddress

from django.core.exceptions import ValidationError

from .choices import ICMP_PROTOCOLS, PORT_PROTOCOLS, PROTOCOL_NAMES, PROTOCOL_NUMBERS, Ethertype, protocol_label


def parse_protocol(value):
    """A protocol given as a name, a number (0-255, also as text) or any/None -> number or None."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in ("any", "all", ""):
        return None
    if text in PROTOCOL_NUMBERS:
        return PROTOCOL_NUMBERS[text]
    if text.isascii() and text.isdigit() and 0 <= int(text) <= 255:  # "²" is a digit int() refuses
        return int(text)
    raise ValidationError({"protocol": (
        f"Security group rule protocol {value} not supported. Only protocol names such as tcp, udp, icmp, "
        "a number from 0 to 255, or any are supported.")})


def validate_rule(rule):
    """Neutron's checks, in Neutron's order; raise ValidationError({field: message})."""
    proto = rule.protocol
    lo, hi = rule.port_range_min, rule.port_range_max
    if proto is not None and not 0 <= proto <= 255:
        raise ValidationError({"protocol": f"Security group rule protocol {proto} not supported. "
                                           "Protocol numbers go from 0 to 255."})
    if rule.ethertype == Ethertype.IPV6 and proto == 1:
        rule.protocol = proto = 58  # ICMP on an IPv6 rule means ICMPv6, as Neutron reads it
    if (lo is not None or hi is not None) and proto is None:
        raise ValidationError({"protocol": "Must also specify protocol if port range is given."})
    if proto in PORT_PROTOCOLS:
        for name, port in (("port_range_min", lo), ("port_range_max", hi)):
            if port is not None and not 1 <= port <= 65535:
                raise ValidationError({name: f"Invalid value for port {port}: it must be between 1 and 65535."})
        if lo is None and hi is not None:
            raise ValidationError({"port_range_min": "port_range_min is required when port_range_max is given."})
        if lo is not None and hi is None:
            rule.port_range_max = hi = lo
        if lo is not None and lo > hi:
            raise ValidationError({"port_range_min": (
                f"For TCP/UDP protocols, port_range_min must be <= port_range_max (got {lo} > {hi}).")})
    elif proto in ICMP_PROTOCOLS:
        lo = rule.port_range_min = None if lo == -1 else lo
        hi = rule.port_range_max = None if hi == -1 else hi
        for name, value, what in (("port_range_min", lo, "type"), ("port_range_max", hi, "code")):
            if value is not None and not 0 <= value <= 255:
                raise ValidationError({name: f"Invalid value for ICMP {what} {value}: it must be 0 to 255 "
                                             "(or -1 for any)."})
        if hi is not None and lo is None:
            raise ValidationError({"port_range_max": (
                f"ICMP code (port_range_max) {hi} is provided but ICMP type (port_range_min) is missing.")})
    elif lo is not None or hi is not None:
        raise ValidationError({"port_range_min": (
            f"Protocol {protocol_label(proto)} does not support port ranges: only tcp, udp and sctp have ports "
            "(and icmp its type and code).")})
    if rule.remote_ip_prefix:
        try:
            network = ipaddress.ip_network(rule.remote_ip_prefix.strip(), strict=False)
        except ValueError:
            raise ValidationError(
                {"remote_ip_prefix": f"'{rule.remote_ip_prefix}' is not a valid IP prefix."}) from None
        rule.remote_ip_prefix = str(network)
        if (network.version == 6) != (rule.ethertype == Ethertype.IPV6):
            raise ValidationError({"remote_ip_prefix": (
                f"Conflicting value ethertype {rule.ethertype} for CIDR {rule.remote_ip_prefix}.")})
        if rule.remote_group_id:
            raise ValidationError({"remote_group_id": "Only remote_ip_prefix or remote_group_id may be provided."})
    # As Neutron checks: the remote group must be visible to the rule's project (the same project).
    if rule.remote_group_id and rule.security_group_id and (
            rule.remote_group.project_id != rule.security_group.project_id):
        raise ValidationError({"remote_group_id": f"Security group {rule.remote_group_id} not found."})


__all__ = ["parse_protocol", "validate_rule", "PROTOCOL_NAMES"]
