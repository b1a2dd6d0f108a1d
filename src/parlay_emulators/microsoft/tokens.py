"""Signed id_tokens (RS256, the key published at ``/discovery/v2.0/keys``) and scope names."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

OIDC_SCOPES = {"openid", "profile", "email", "offline_access"}
GRAPH_RESOURCE = "https://graph.microsoft.com/"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def normalize(scope: str) -> str:
    """``https://graph.microsoft.com/Calendars.ReadWrite`` and ``calendars.readwrite`` are one scope."""
    low = scope.strip()
    if low.lower().startswith(GRAPH_RESOURCE):
        low = low[len(GRAPH_RESOURCE) :]
    return low.lower()


def split(raw: str | None) -> list[str]:
    return [s for s in (raw or "").split() if s]


def granted_text(scopes: list[str]) -> str:
    """The ``scope`` of a token response: what was granted, without ``offline_access``."""
    names = []
    for scope in scopes:
        short = scope[len(GRAPH_RESOURCE) :] if scope.lower().startswith(GRAPH_RESOURCE) else scope
        if short.lower() != "offline_access":
            names.append(short)
    return " ".join(names)


def pkce_ok(challenge: str, method: str, verifier: str) -> bool:
    if method.upper() == "S256":
        return b64url(hashlib.sha256(verifier.encode()).digest()) == challenge
    return verifier == challenge


class Signer:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex[:16]

    def jwks(self) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()

        def encode(n: int) -> str:
            return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))

        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "kid": self.kid,
                    "n": encode(numbers.n),
                    "e": encode(numbers.e),
                    "alg": "RS256",
                }
            ]
        }

    def id_token(self, claims: dict[str, Any], lifetime: int = 3600) -> str:
        issued = int(time.time())
        body = {"ver": "2.0", "iat": issued, "nbf": issued, "exp": issued + lifetime, **claims}
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(body).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"
