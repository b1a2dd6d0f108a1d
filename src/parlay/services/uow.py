"""The unit of work: one write transaction, its live events, and their announcement after
commit (never before: a client must not hear of a change it cannot yet read).

Live events are buffered while the use case runs and written last, just before the commit:
whatever orders event ids (PostgreSQL's advisory lock, taken inside the COMMIT, see
``parlay.services.events``) is then held only for those inserts and the commit, never while
the use case waits on a row lock or this process on anything, so it cannot take part in a
deadlock and does not serialize the use cases themselves.  On PostgreSQL that commit does not
wait for the disk while it holds the lock; the unit of work waits for it right after, before
anything is announced or answered (``parlay.db.durable``).

``retrying`` re-runs a whole use case when the database answers that the transaction lost a
race it can safely retry (deadlock, serialization failure) or that its connection was lost
before the commit was sent.  A connection lost *during* the commit leaves the outcome unknown:
that is reported (503 ``try_again``), never silently retried, so nothing is written twice.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.exc import DBAPIError

from parlay.db.durable import DurabilityUnknown
from parlay.db.session import WriteQueueTimeout
from parlay.domain.errors import OutcomeUnknown, TryAgain
from parlay.services import outbox
from parlay.services.context import Context
from parlay.services.events import PendingEvent, append_events

log = logging.getLogger(__name__)

#: PostgreSQL SQLSTATEs of a transaction that lost a race and may simply run again.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
ATTEMPTS = 4


class UnitOfWork:
    def __init__(self, session: Any, ctx: Context) -> None:
        self.session = session
        self.ctx = ctx
        self.now = ctx.now()
        self.events: list[PendingEvent] = []

    async def emit(self, type: str, data: dict[str, Any], recipients: set[str]) -> None:
        """Queue a live event; it is written with the others when the use case ends."""
        self.events.append(PendingEvent(type, data, frozenset(recipients)))

    async def enqueue(
        self, kind: str, dedupe_key: str, payload: dict[str, Any], *, delay: float = 0.0
    ) -> None:
        """Queue an outbox job in this transaction (coalescing by key; ``parlay.services.outbox``)."""
        await outbox.enqueue(self.session, kind, dedupe_key, payload, delay=delay)


@asynccontextmanager
async def unit_of_work(ctx: Context) -> AsyncIterator[UnitOfWork]:
    try:
        async with ctx.db.writing(), _transaction(ctx) as uow:
            yield uow
    except WriteQueueTimeout as exc:  # this process's write queue did not move for long
        raise TryAgain() from exc
    if uow.events:
        await ctx.broker.notify()


@asynccontextmanager
async def _transaction(ctx: Context) -> AsyncIterator[UnitOfWork]:
    async with ctx.db.session() as session:
        await session.begin()
        uow = UnitOfWork(session, ctx)
        mark: float | None = None
        try:
            yield uow
            if uow.events:
                # Before the event lock is taken (this may open the flusher's connection):
                # the commit will not wait for the disk, the wait after it will.
                try:
                    mark = await ctx.db.direct.durable_mark()
                except DurabilityUnknown as exc:  # the database cannot be reached
                    raise TryAgain() from exc
                await append_events(session, uow.events, now=uow.now)
        except BaseException:
            with suppress(Exception):
                await session.rollback()
            raise
        try:
            await session.commit()
        except DBAPIError as exc:
            if is_retryable(exc) and not is_disconnect(exc):
                raise  # refused by the database at commit: nothing was written
            raise OutcomeUnknown() from exc
        if mark is not None:
            try:
                await ctx.db.direct.wait_durable(mark)
            except DurabilityUnknown as exc:  # committed; whether it is on disk is unknown
                raise OutcomeUnknown() from exc


def sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None)
    for source in (orig, getattr(orig, "__cause__", None)):
        code = getattr(source, "sqlstate", None) or getattr(source, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def is_disconnect(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and (
        is_disconnect(exc) or sqlstate(exc) in RETRYABLE_SQLSTATES
    )


P = ParamSpec("P")
R = TypeVar("R")


def retrying(use_case: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Run ``use_case`` again (a bounded number of times, with a short jittered pause) when its
    transaction lost a retryable race; the last failure propagates."""

    @functools.wraps(use_case)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return await use_case(*args, **kwargs)
            except DBAPIError as exc:
                if not is_retryable(exc):
                    raise
                if attempt == ATTEMPTS:
                    raise TryAgain() from exc
                log.info(
                    "%s: retrying after %s (attempt %d)",
                    use_case.__name__,
                    sqlstate(exc) or "disconnect",
                    attempt,
                )
                await asyncio.sleep(random.uniform(0, 0.01 * 2**attempt))
        raise AssertionError("unreachable")

    return run
