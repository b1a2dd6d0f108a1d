"""Where the server may connect on a user's behalf.

A CalDAV URL is typed by a user, and the server then connects to it: without a check, anyone
signed in could make Parlay probe its own network (a metadata service, an admin port).  In
production only public addresses are allowed unless the operator allows private ones
(``PARLAY_ALLOW_PRIVATE_CALENDAR_URLS``, e.g. a Nextcloud on the same LAN).  The check resolves
the host and refuses if *any* address it resolves to is not global.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


class AddressNotAllowed(Exception):
    """The URL names (or resolves to) an address the server must not connect to."""


async def check_public_url(url: str) -> None:
    """Raise ``AddressNotAllowed`` unless every address ``url``'s host resolves to is public.
    A host that does not resolve passes (the connection itself will fail)."""
    host = urlsplit(url).hostname
    if not host:
        raise AddressNotAllowed("The URL has no host.")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global:
            raise AddressNotAllowed(f"{host} is on a private or local network.")
