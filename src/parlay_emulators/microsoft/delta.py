"""calendarView delta (Graph v1.0 ``event: delta``): rounds of pages ending in a deltaLink.

The first call names the window (``startDateTime``/``endDateTime``); every page but the last
carries an ``@odata.nextLink`` with a ``$skiptoken``, the last an ``@odata.deltaLink`` with a
``$deltatoken``.  The tokens encode the window and the calendar, so the links are followed
verbatim with no other query option.  A later round from a deltaLink lists what changed in the
window since: added and changed events in full (or, with ``partial_delta_updates`` set through
the control API, a changed event as its id plus the properties that changed, which the docs
allow), and ``{"id", "@removed": {"reason": "deleted"}}`` for events deleted or moved out of the
window.  An unknown or expired token is ``410 Gone`` with ``syncStateNotFound`` (or the code the
control API expired it with, e.g. ``resyncRequired``).  ``$select``, ``$expand``, ``$filter``,
``$orderby`` and ``$search`` are not supported on this delta (400).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.requests import Request

from . import events as ev
from . import timezones as tz
from .errors import GraphError
from .store import Account, Calendar, Store

DEFAULT_PAGE = 10
MAX_PAGE = 1000
UNSUPPORTED = ("$select", "$expand", "$filter", "$orderby", "$search", "$top", "$skip")
#: Sync states kept per calendar, and rounds in progress in all: older ones are forgotten (their
#: tokens then answer 410 syncStateNotFound, as Graph's do when it drops a state).
KEEP_STATES = 20
KEEP_ROUNDS = 200
EXPIRED_MESSAGE = "The sync state is not found or has expired; synchronize again from the start."


@dataclass
class DeltaState:
    """What a deltaLink stands for: a window of one calendar and the events seen in it."""

    account_id: str
    calendar_id: str | None  # None: every calendar of the account (``/me/calendarView``)
    start: datetime
    end: datetime
    seen: dict[str, dict[str, Any]]  # event id -> its UTC rendering when the round was read
    expired: str | None = None  # the error code to answer with, once expired


@dataclass
class PendingRound:
    """A round being paged through: what is left to send, then the state it leaves behind."""

    state: DeltaState
    items: list[dict[str, Any]]
    page_size: int
    sent: int = 0


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _expired(code: str | None = None) -> GraphError:
    return GraphError(410, code or "syncStateNotFound", EXPIRED_MESSAGE)


def _in_window(
    store: Store, account: Account, calendar: Calendar | None, start: datetime, end: datetime
) -> dict[str, ev.Event]:
    return {
        e.id: e
        for e in sorted(store.live_events(account, calendar), key=lambda e: (e.start, e.id))
        if ev.overlaps(e, start, end)
    }


def _window(request: Request) -> tuple[datetime, datetime]:
    raw_start = request.query_params.get("startDateTime")
    raw_end = request.query_params.get("endDateTime")
    if not raw_start or not raw_end:
        raise GraphError(
            400,
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters "
            "StartDateTime and EndDateTime.",
        )
    try:
        return tz.parse_instant(raw_start), tz.parse_instant(raw_end)
    except ValueError as exc:
        raise GraphError(
            400, "ErrorInvalidParameter", "The value of StartDateTime or EndDateTime is not valid."
        ) from exc


def _changes(
    store: Store, account: Account, state: DeltaState, zone_name: str | None, base: str
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The items of a round after ``state`` (all of the window when nothing was seen), and
    what the round leaves as seen."""
    calendar = store.calendars.get(state.calendar_id) if state.calendar_id else None
    current = _in_window(store, account, calendar, state.start, state.end)
    seen = {eid: ev.render(e, "UTC", base) for eid, e in current.items()}
    items: list[dict[str, Any]] = []
    for eid, event in current.items():
        before = state.seen.get(eid)
        if before is not None and before == seen[eid]:
            continue
        shown = ev.render(event, zone_name or "UTC", base)
        if before is not None and store.partial_delta_updates:
            changed = {k for k, v in seen[eid].items() if before.get(k) != v}
            shown = {k: v for k, v in shown.items() if k in changed or k in ("id", "@odata.etag")}
        items.append(shown)
    for eid in state.seen:
        if eid not in current:
            items.append({"id": eid, "@removed": {"reason": "deleted"}})
    return items, seen


def _page(request: Request, store: Store, pending: PendingRound) -> dict[str, Any]:
    chunk = pending.items[pending.sent : pending.sent + pending.page_size]
    pending.sent += len(chunk)
    link = f"{_base(request)}{request.url.path}"
    body: dict[str, Any] = {
        "@odata.context": f"{_base(request)}/v1.0/$metadata#Collection(event)",
        "value": chunk,
    }
    if pending.sent < len(pending.items):
        token = secrets.token_urlsafe(24)
        store.delta_rounds[token] = pending
        for old in list(store.delta_rounds)[:-KEEP_ROUNDS]:
            del store.delta_rounds[old]
        body["@odata.nextLink"] = f"{link}?$skiptoken={token}"
    else:
        token = secrets.token_urlsafe(32)
        store.delta_states[token] = pending.state
        _forget_old_states(store, pending.state)
        body["@odata.deltaLink"] = f"{link}?$deltatoken={token}"
    return body


def _forget_old_states(store: Store, newest: DeltaState) -> None:
    same = [
        token
        for token, state in store.delta_states.items()
        if (state.account_id, state.calendar_id) == (newest.account_id, newest.calendar_id)
    ]
    for token in same[:-KEEP_STATES]:
        del store.delta_states[token]


def delta_page(
    request: Request,
    account: Account,
    calendar: Calendar | None,
    zone_name: str | None,
    page_size: int | None,
) -> dict[str, Any]:
    """One page of a calendarView delta round, for ``account`` (already authenticated)."""
    store = _store(request)
    query = request.query_params
    for name in UNSUPPORTED:
        if name in query:
            raise GraphError(
                400,
                "ErrorInvalidUrlQuery",
                f"The query parameter '{name}' is not supported with change tracking over the "
                "'CalendarView' resource.",
            )
    size = min(page_size or DEFAULT_PAGE, MAX_PAGE)
    if "$skiptoken" in query:
        pending = store.delta_rounds.pop(query["$skiptoken"], None)
        if pending is None or pending.state.account_id != account.id:
            raise _expired()
        if pending.state.expired:
            raise _expired(pending.state.expired)
        return _page(request, store, pending)
    if "$deltatoken" in query:
        state = store.delta_states.get(query["$deltatoken"])
        if state is None or state.account_id != account.id:
            raise _expired()
        if state.expired:
            raise _expired(state.expired)
        if state.calendar_id and state.calendar_id not in store.calendars:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found.")
    else:
        start, end = _window(request)
        state = DeltaState(account.id, calendar.id if calendar else None, start, end, seen={})
    items, seen = _changes(store, account, state, zone_name, _base(request))
    after = DeltaState(state.account_id, state.calendar_id, state.start, state.end, seen)
    return _page(request, store, PendingRound(after, items, size))


def expire(store: Store, calendar: Calendar, code: str = "syncStateNotFound") -> int:
    """Expire every delta token and round in progress over ``calendar`` (and over all the
    calendars of its account); returns how many."""
    count = 0
    targets = [*store.delta_states.values(), *(p.state for p in store.delta_rounds.values())]
    for state in targets:
        if state.account_id == calendar.account_id and state.calendar_id in (calendar.id, None):
            state.expired = code
            count += 1
    return count
