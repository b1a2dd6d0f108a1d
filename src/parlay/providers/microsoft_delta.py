"""Reading Microsoft Graph's calendarView delta (``event: delta``, calendar-apis.md §3.4).

A round is the first call with the window (or the stored deltaLink), then ``@odata.nextLink``
pages followed verbatim until a page carries ``@odata.deltaLink``, which is stored verbatim as
the sync token: the window and every query option are encoded in it, so nothing else is sent
with it but the ``Prefer`` header.  ``syncStateNotFound``/``resyncRequired`` (or a 410 Gone) mean
the token is spent: :class:`SyncTokenExpired`, and the base class reads in full again.

What an item of a round can tell, and what it cannot: removed items are ``{"id",
"@removed"}`` (deleted, or moved out of the window); added ones come whole; a changed one may
come as its id and the properties that changed only (delta query's general rule), and
``transactionId``, the mark of Parlay's own events, is returned "only if you set it" and not
promised on delta.  :func:`needs_lookup` says which items must be read again before they can be
judged; the adapter reads those (one GET each, or one calendarView of the window when many).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from parlay.providers.errors import ProviderError, SyncTokenExpired, Transient
from parlay.providers.microsoft_http import error_code, graph_error

SPENT_CODES = frozenset({"syncstatenotfound", "resyncrequired"})
MAX_PAGES = 5000  # a round longer than this is a server that never ends it
#: Event types Parlay never writes (it writes single instances), so never its own.
NOT_OURS = frozenset({"occurrence", "exception", "seriesMaster"})


@dataclass(frozen=True)
class DeltaRound:
    items: list[dict[str, Any]]
    delta_link: str


def delta_error(response: httpx.Response) -> ProviderError:
    code, _ = error_code(response)
    if code.lower() in SPENT_CODES or response.status_code == 410:
        return SyncTokenExpired(code or "410 Gone")
    return graph_error("calendarView.delta", response)


def same_origin(link: str, graph_url: str) -> bool:
    """A stored deltaLink is followed with our bearer token: only to the Graph we talk to."""
    ours, theirs = urlsplit(graph_url), urlsplit(link)
    return (theirs.scheme, theirs.netloc.lower()) == (ours.scheme, ours.netloc.lower())


async def read_round(
    client: httpx.AsyncClient,
    url: str,
    params: Mapping[str, str] | None,
    headers: Mapping[str, str],
) -> DeltaRound:
    """Every item of one round, in order, and the deltaLink that ends it."""
    items: list[dict[str, Any]] = []
    next_url, query = url, params
    for _ in range(MAX_PAGES):
        response = await client.get(next_url, params=query, headers=headers)
        if response.status_code != 200:
            raise delta_error(response)
        body = response.json()
        items.extend(item for item in body.get("value") or [] if isinstance(item, dict))
        if body.get("@odata.deltaLink"):
            return DeltaRound(items, str(body["@odata.deltaLink"]))
        link = body.get("@odata.nextLink")
        if not link:
            raise Transient("calendarView delta: a page with neither nextLink nor deltaLink")
        next_url, query = str(link), None
    raise Transient("calendarView delta: the round did not end")


def is_removed(item: Mapping[str, Any]) -> bool:
    return "@removed" in item


def needs_lookup(item: Mapping[str, Any]) -> bool:
    """Whether an item must be read again to judge it: its times are missing (a partial
    change), an all-day item lacks the zone its midnights belong to, or it could be one of
    Parlay's own events and carries no ``transactionId`` to say so."""
    if not isinstance(item.get("start"), Mapping) or not isinstance(item.get("end"), Mapping):
        return True
    if item.get("isAllDay") and not item.get("originalStartTimeZone"):
        return True
    return "transactionId" not in item and item.get("type") not in NOT_OURS
