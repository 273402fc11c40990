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


# What useradd accepts by default (and ssh passes through untouched): no shell metacharacters.
SSH_USERNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")


def validate_ssh_username(value, *, field="username"):
    if not SSH_USERNAME.match(value or ""):
        raise ValidationError({field: "Enter a user name: up to 32 letters, digits, '_', '.' or '-', "
                                      "starting with a letter or '_'."}, code="invalid")
