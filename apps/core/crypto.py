"""Secrets at rest (SSH passwords and keys of hosts and backup storage): Fernet, keyed by SECRET_KEY.

The key is derived from settings.SECRET_KEY with HKDF, so a database dump alone reveals nothing;
changing SECRET_KEY makes stored secrets unreadable (they must then be entered again).
"""

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from .exceptions import InvalidInput

_INFO = b"nimbo credentials v1"


def _fernet():
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(settings.SECRET_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(text):
    """A token for `text` ("" stays "", meaning not set)."""
    if not text:
        return ""
    return _fernet().encrypt(text.encode()).decode()


def decrypt(token):
    """The text of a token made by encrypt() ("" stays "")."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise InvalidInput("A stored secret cannot be read (was the secret key changed?); enter it again.") from exc
