"""The VAPID key pair (RFC 8292) that identifies this server to push services.

Browsers subscribe with its public key (``GET /api/v1/push/key``) and push services accept only
requests signed by the matching private key, so the pair must outlive restarts: it comes from
``PARLAY_VAPID_PRIVATE_KEY`` (PEM, or base64url of the raw scalar) or is generated once into
``{data_dir}/vapid.pem`` (created exclusively: two processes starting together end up with the
same key).
"""

from __future__ import annotations

import base64
import functools
import os
import time
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

KEY_FILE = "vapid.pem"
#: How long a VAPID token is good for (RFC 8292: at most 24 hours).
TOKEN_SECONDS = 12 * 3600


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _from_setting(value: str) -> ec.EllipticCurvePrivateKey:
    if "BEGIN" in value:
        key = serialization.load_pem_private_key(value.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("PARLAY_VAPID_PRIVATE_KEY must be a P-256 (EC) key")
        return key
    return ec.derive_private_key(
        int.from_bytes(b64url_decode(value.strip()), "big"), ec.SECP256R1()
    )


def _from_file(path: Path) -> ec.EllipticCurvePrivateKey:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
    return _from_setting(path.read_text())


@dataclass(frozen=True)
class VapidKeys:
    private_key: ec.EllipticCurvePrivateKey
    subject: str

    @classmethod
    def load(
        cls, data_dir: Path, configured: str | None, subject: str | None, base_url: str, sender: str
    ) -> VapidKeys:
        key = _from_setting(configured) if configured else _from_file(data_dir / KEY_FILE)
        return cls(key, subject or default_subject(base_url, sender))

    @property
    def public_key(self) -> str:
        """The application server key browsers subscribe with (base64url, uncompressed point)."""
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(raw)

    def authorization(self, endpoint: str, now: float | None = None) -> str:
        """The ``Authorization: vapid t=<JWT>,k=<public key>`` header for ``endpoint``."""
        parts = urlsplit(endpoint)
        claims = {
            "aud": f"{parts.scheme}://{parts.netloc}",
            "exp": int((now if now is not None else time.time()) + TOKEN_SECONDS),
            "sub": self.subject,
        }
        vapid = Vapid02(self.private_key, conf={"no-strict": True})
        return str(vapid.sign(claims)["Authorization"])


def default_subject(base_url: str, sender: str) -> str:
    if base_url.startswith("https://"):
        return base_url
    address = parseaddr(sender)[1] or "parlay@localhost"
    return f"mailto:{address}"


@functools.lru_cache(maxsize=8)
def vapid_keys(
    data_dir: Path, configured: str | None, subject: str | None, base_url: str, sender: str
) -> VapidKeys:
    """``VapidKeys.load``, once per process and configuration (the API and the worker share
    the pair without reading the key file on every request)."""
    return VapidKeys.load(data_dir, configured, subject, base_url, sender)
