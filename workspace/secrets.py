"""Secrets stored in the database, encrypted at rest (Fernet: AES-128-CBC + HMAC-SHA256).

The key is derived (HKDF-SHA256) from ``KEEL_ENCRYPTION_KEY`` when set, else from
``SECRET_KEY``: a database dump alone does not give the Slack token away. Rotating
the key makes stored values unreadable (``Unreadable``); the settings page then
asks for them again rather than failing.
"""

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_SALT = b"keel.workspace.secrets"


class Unreadable(ValueError):
    """The stored value was encrypted with another key (or is damaged)."""


def _fernet() -> Fernet:
    material = (settings.KEEL_ENCRYPTION_KEY or settings.SECRET_KEY).encode()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=b"fernet").derive(material)
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise Unreadable("The stored secret cannot be read with the current key.") from exc


def last4(value: str) -> str:
    """What a page may show of a secret: its last four characters."""
    return value[-4:] if len(value) >= 12 else ""
