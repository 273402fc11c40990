"""Stored secrets: encrypted with a key derived from SECRET_KEY, unreadable under another key."""

import pytest

from apps.core.crypto import decrypt, encrypt
from apps.core.exceptions import InvalidInput


def test_round_trip_and_empty(settings):
    token = encrypt("root-pässword")
    assert token != "root-pässword" and "root" not in token
    assert decrypt(token) == "root-pässword"
    assert encrypt("") == "" and decrypt("") == ""
    assert encrypt("same") != encrypt("same")  # a fresh IV each time


def test_another_secret_key_cannot_read_it(settings):
    token = encrypt("s3cret")
    settings.SECRET_KEY = "another-installation"
    with pytest.raises(InvalidInput, match="cannot be read"):
        decrypt(token)
