"""Guest passes: the credential the lobby gives someone outside the room who holds a join link.

A pass is signed, not stored (no migration, nothing to clean up): ``g1.<payload>.<mac>`` where
the payload names the meeting, a random guest id, the name they gave and an expiry, and the
MAC is HMAC-SHA256 under a key derived from the secret key for this one purpose.  It is good
for that meeting's signaling socket only: it is no session and no personal access token, so
every other API call with it is 401.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

PREFIX = "g1."
MAX_PASS_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class GuestPass:
    meeting_id: str
    guest_id: str
    name: str
    expires: int  # unix seconds


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class GuestPasses:
    def __init__(self, secret_key: str) -> None:
        self._key = hmac.new(secret_key.encode(), b"parlay video guest pass v1", "sha256").digest()

    def __repr__(self) -> str:
        return "GuestPasses(<key hidden>)"

    def derive(self, purpose: bytes) -> bytes:
        """A key for another video purpose (the Janus rooms' secrets), never the passes' own."""
        return hmac.new(self._key, b"derive:" + purpose, "sha256").digest()

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def issue(self, meeting_id: str, name: str, expires: datetime) -> tuple[str, GuestPass]:
        guest = GuestPass(meeting_id, uuid.uuid4().hex, name, int(expires.timestamp()))
        body = {"m": guest.meeting_id, "g": guest.guest_id, "n": guest.name, "e": guest.expires}
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{PREFIX}{payload}.{self._mac(payload)}", guest

    def verify(self, token: str, now: datetime) -> GuestPass | None:
        """The pass, if this server signed it and it has not expired; else None."""
        if not token.startswith(PREFIX) or len(token) > MAX_PASS_LENGTH:
            return None
        payload, _, mac = token[len(PREFIX) :].partition(".")
        if not hmac.compare_digest(mac.encode(), self._mac(payload).encode()):
            return None
        try:
            body = json.loads(_unb64(payload))
            guest = GuestPass(str(body["m"]), str(body["g"]), str(body["n"]), int(body["e"]))
        except (ValueError, KeyError, TypeError):
            return None
        return guest if guest.expires > now.timestamp() else None
