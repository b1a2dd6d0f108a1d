"""The ICE servers a browser is given for a call (``RTCPeerConnection({iceServers})``).

STUN/TURN URLs come from ``PARLAY_VIDEO_ICE_URLS``.  With ``PARLAY_VIDEO_TURN_SECRET`` (coturn's
``static-auth-secret``) the TURN URLs get the TURN REST API's short-lived credentials: username
``<expiry unix time>:<who>``, password base64(HMAC-SHA1(secret, username)), so no long-lived
TURN password ever reaches a browser.  With nothing set the list is empty: host candidates
work on a LAN and on loopback.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class IceConfig:
    urls: tuple[str, ...] = ()
    turn_secret: str | None = None
    ttl_seconds: int = 6 * 3600

    @classmethod
    def parse(cls, urls: str, turn_secret: str | None, ttl_seconds: int) -> IceConfig:
        found = tuple(u.strip() for u in urls.split(",") if u.strip())
        return cls(found, turn_secret or None, ttl_seconds)


def compute_ice_servers(config: IceConfig, who: str, now_unix: int) -> list[dict[str, Any]]:
    stun = [u for u in config.urls if not u.startswith(("turn:", "turns:"))]
    turn = [u for u in config.urls if u.startswith(("turn:", "turns:"))]
    servers: list[dict[str, Any]] = []
    if stun:
        servers.append({"urls": stun})
    if turn and config.turn_secret:
        username = f"{now_unix + config.ttl_seconds}:{who}"
        mac = hmac.new(config.turn_secret.encode(), username.encode(), hashlib.sha1).digest()
        password = base64.b64encode(mac).decode("ascii")
        servers.append({"urls": turn, "username": username, "credential": password})
    elif turn:
        servers.append({"urls": turn})
    return servers
