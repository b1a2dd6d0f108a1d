"""Where webhooks and Web Push may send (SSRF): checked when the URL is given and again before
each delivery (a name can resolve elsewhere by then).

- A webhook URL is ``http(s)://`` with a host.  In production it must not point at this server
  (its ``base_url`` host) nor at a private, loopback or link-local address
  (``parlay.services.outbound.check_public_url``); elsewhere anything goes (tests, demos).
- A push endpoint is ``https://``; outside production ``http://`` on a loopback address is also
  allowed (a test's push service).  In production it must be public as well.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from parlay.domain.errors import InvalidInput
from parlay.services.outbound import AddressNotAllowed, check_public_url


class UrlNotAllowed(InvalidInput):
    code = "url_not_allowed"
    default_message = "Parlay may not send to that address."


def _split(url: str, field: str) -> tuple[str, str]:
    """The scheme and lower-cased host of ``url`` (422 when it cannot be parsed)."""
    try:
        parts = urlsplit(url)
        return parts.scheme, (parts.hostname or "").lower()
    except ValueError:
        raise UrlNotAllowed("That is not a valid URL.", field=field) from None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def check_webhook_url(url: str, base_url: str, *, allow_private: bool) -> None:
    scheme, host = _split(url, "url")
    if scheme not in ("http", "https") or not host:
        raise UrlNotAllowed("The URL must be http:// or https:// with a host.", field="url")
    if allow_private:
        return
    own = (urlsplit(base_url).hostname or "").lower()
    if host == own:
        raise UrlNotAllowed("A webhook may not point at Parlay itself.", field="url")
    try:
        await check_public_url(url)
    except AddressNotAllowed as exc:
        raise UrlNotAllowed(str(exc), field="url") from None


async def check_push_endpoint(endpoint: str, *, production: bool) -> None:
    scheme, host = _split(endpoint, "endpoint")
    if not host:
        raise UrlNotAllowed("The push endpoint has no host.", field="endpoint")
    if scheme == "https":
        if production:
            try:
                await check_public_url(endpoint)
            except AddressNotAllowed as exc:
                raise UrlNotAllowed(str(exc), field="endpoint") from None
        return
    if scheme == "http" and not production and _is_loopback(host):
        return
    raise UrlNotAllowed("A push endpoint must be an https:// URL.", field="endpoint")
