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
            "Enter a size such as 512M, 2G or a number of bytes, not %(value)r.", code="invalid",
            params={"value": value}
        )
    number, unit, _ = match.groups()
    return int(number) * _UNITS[unit.upper()]


def format_size(num):
    for unit in ("T", "G", "M", "K"):
        if num and num % _UNITS[unit] == 0:
            return f"{num // _UNITS[unit]}{unit}"
    return str(num)


def human_size(num, empty="-"):
    """A size as people read it: "512 MiB", "23.5 GiB", "1.2 TiB" (binary units, one decimal at most)."""
    if num is None:
        return empty
    num = int(num)
    for unit, name in (("T", "TiB"), ("G", "GiB"), ("M", "MiB"), ("K", "KiB")):
        if abs(num) >= _UNITS[unit]:
            value = num / _UNITS[unit]
            text = f"{value:.1f}".removesuffix(".0")
            return f"{text} {name}"
    return f"{num} B"


class SizeField(models.BigIntegerField):
    """Bytes in the database; accepts "512M" / "2G" / bytes from forms, the API and code."""

    def to_python(self, value):
        return parse_size(value)

    def get_prep_value(self, value):
        return super().get_prep_value(parse_size(value))

    def formfield(self, **kwargs):
        # A text input, always: the admin's default for a BigIntegerField is <input type=number>, where a
        # browser refuses "512M" before it is even sent.
        return super().formfield(**{**kwargs, "form_class": SizeFormField, "widget": forms.TextInput})


class SizeFormField(forms.CharField):
    """Text input that shows 536870912 as "512M" and parses what the user types."""

    def __init__(self, *, max_value=None, min_value=None, step_size=None, **kwargs):
        if not kwargs.get("help_text"):
            kwargs["help_text"] = "e.g. 512M or 1G (binary units: 1G = 1024M), or a number of bytes"
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return format_size(value) if isinstance(value, int) else value

    def to_python(self, value):
        return parse_size(super().to_python(value))
