"""Validators shared by every app."""

import re

from django.core.exceptions import ValidationError

# C0 controls but tab, newline and carriage return; DEL; C1 controls (ESC's 8-bit forms).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# A one-line value (a name, a path, an address) holds no line breaks either.
LINE_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")

CONTROL_MESSAGE = "Control characters (NUL, ESC...) are not allowed."


def validate_no_control_characters(value, *, multiline=True):
    """Refuse NUL and other control characters; the message never echoes the value."""
    pattern = CONTROL_CHARACTERS if multiline else LINE_CONTROL_CHARACTERS
    if isinstance(value, str) and pattern.search(value):
        raise ValidationError(CONTROL_MESSAGE, code="control_characters")
