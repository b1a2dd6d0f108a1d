"""Secrets at rest (calendar passwords and tokens): Fernet, with keys derived from the
settings' secret key by HKDF.  ``SecretBox(current, *older)`` encrypts with the first key and
decrypts with any, so the secret key can be rotated (MultiFernet).  Plaintexts never reach a
log, a ``repr`` or an error message."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"parlay secrets at rest v1"


def derive_key(secret_key: str) -> bytes:
    """A Fernet key (urlsafe base64 of 32 bytes) derived from the application's secret key."""
    if not secret_key:
        raise ValueError("a secret key is required")
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret_key.encode()
    )
    return base64.urlsafe_b64encode(raw)


class SecretUnreadable(Exception):
    """The ciphertext was not made with any of the keys given (or was altered)."""


class SecretBox:
    def __init__(self, secret_key: str, *older_keys: str) -> None:
        self._fernet = MultiFernet([Fernet(derive_key(k)) for k in (secret_key, *older_keys)])

    def __repr__(self) -> str:
        return "SecretBox(<keys hidden>)"

    def encrypt(self, values: dict[str, Any]) -> str:
        """The JSON of ``values``, encrypted and authenticated (a Fernet token, ASCII)."""
        return self._fernet.encrypt(json.dumps(values).encode()).decode("ascii")

    def decrypt(self, token: str) -> dict[str, Any]:
        try:
            plain = self._fernet.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            raise SecretUnreadable(
                "stored secret cannot be decrypted with the current keys"
            ) from None
        value = json.loads(plain)
        if not isinstance(value, dict):
            raise SecretUnreadable("stored secret has an unexpected shape")
        return value

    def rotate(self, token: str) -> str:
        """Re-encrypt ``token`` under the current key."""
        return self._fernet.rotate(token.encode("ascii")).decode("ascii")
