"""Secrets at rest: encrypted with a key derived from SECRET_KEY, unreadable without it."""

import pytest

from apps.core.crypto import decrypt, encrypt
from apps.core.exceptions import InvalidInput


def test_round_trip_and_no_plaintext():
    token = encrypt("s3cret-Pw")
    assert token != encrypt("s3cret-Pw"), "each encryption is salted"
    assert "s3cret" not in token and decrypt(token) == "s3cret-Pw"
    assert encrypt("") == "" and decrypt("") == ""


def test_another_secret_key_cannot_read_it(settings):
    token = encrypt("s3cret-Pw")
    settings.SECRET_KEY = "another-installation"
    with pytest.raises(InvalidInput, match="stored secret cannot be read"):
        decrypt(token)
