"""Shared model fields."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.db import models

_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_SIZE = re.compile(r"^\s*(\d+)\s*([KMGT]?)(I?B)?\s*$", re.IGNORECASE)


def parse_size(value):
    """Bytes from 512, "512M", "2G", "1T", "2GiB" (binary units, as ZStack's memory sizes)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValidationError("Enter a size such as 512M, 2G or a number of bytes.", code="invalid")
    if isinstance(value, int):
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise ValidationError(
            "Enter a size such as 512M, 2G or a number of bytes, not %(value)r.", code="invalid", params={"value": value}
        )
    number, unit, _ = match.groups()
    return int(number) * _UNITS[unit.upper()]


def format_size(num):
    for unit in ("T", "G", "M", "K"):
        if num and num % _UNITS[unit] == 0:
            return f"{num // _UNITS[unit]}{unit}"
    return str(num)


class SizeField(models.BigIntegerField):
    """Bytes in the database; accepts "512M" / "2G" / bytes from forms, the API and code."""

    def to_python(self, value):
        return parse_size(value)

    def get_prep_value(self, value):
        return super().get_prep_value(parse_size(value))

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": SizeFormField, **kwargs})


class SizeFormField(forms.CharField):
    """Text input that shows 536870912 as "512M" and parses what the user types."""

    def __init__(self, *, max_value=None, min_value=None, step_size=None, **kwargs):
        kwargs.setdefault("help_text", "e.g. 512M, 2G or a number of bytes")
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return format_size(value) if isinstance(value, int) else value

    def to_python(self, value):
        return parse_size(super().to_python(value))
