"""Accounts: signup, login sessions, personal access tokens, profile."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pydantic import BaseModel
from sqlalchemy import and_, bindparam, delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from parlay.db.direct import DirectQuery
from parlay.db.models import AccessToken, AuthSession, User
from parlay.domain.availability import parse_time_zone
from parlay.domain.errors import (
    BadCredentials,
    EmailTaken,
    InvalidInput,
    NotFound,
    SessionRequired,
    Unauthenticated,
)
from parlay.services.context import Context
from parlay.services.principals import CachedCaller

#: The production profile: pwdlib's recommended argon2 parameters.
STRONG_HASHING = PasswordHash.recommended()
#: PARLAY_ENV=test only: real argon2 at a small cost, so test suites sign up many people fast.
TEST_HASHING = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
_dummy_hashes: dict[int, str] = {}


def _dummy_hash(hashing: PasswordHash) -> str:
    """A hash to verify against for unknown emails, so they take as long as wrong passwords."""
    if id(hashing) not in _dummy_hashes:
        _dummy_hashes[id(hashing)] = hashing.hash("parlay-timing-equaliser")
    return _dummy_hashes[id(hashing)]


TOKEN_PREFIX = "plt_"
#: How stale a token's stored last use may get: it is written at most about this often.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)
log = logging.getLogger(__name__)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class Login:
    user: User
    session_token: str
    csrf_token: str


@dataclass(frozen=True)
class Principal:
    """Who is calling, and how: cookie sessions need CSRF on writes, tokens do not."""

    user: User
    via_session: bool
    csrf_token: str | None = None
    #: The principal-cache key of the credential ("s:" or "t:" + its digest): what a logout or
    #: a token revocation names to end it everywhere (cache entries, open sockets).
    key: str = ""


async def do_signup(
    ctx: Context, *, email: str, password: str, display_name: str, time_zone: str
) -> User:
    parse_time_zone(time_zone)
    password_hash = await asyncio.to_thread(ctx.passwords.hash, password)
    user = User(
        email=normalize_email(email),
        display_name=display_name.strip(),
        time_zone=time_zone,
        password_hash=password_hash,
        created_at=ctx.now(),
    )
    try:
        async with ctx.db.write() as session:
            if await session.scalar(select(User.id).where(User.email == user.email)):
                raise EmailTaken(field="email")
            session.add(user)
    except IntegrityError as exc:  # a simultaneous signup with the same email
        raise EmailTaken(field="email") from exc
    return user


async def check_login(ctx: Context, *, email: str, password: str, address: str) -> Login:
    """Sign in, or raise BadCredentials; RateLimited (parlay.services.ratelimits) refuses
    guessing before any password is checked."""
    email = normalize_email(email)
    now = ctx.now()
    # Counted as a failure from here on (simultaneous guesses see each other) until it succeeds.
    attempt = await ctx.limiter.begin_login(email, address)
    try:
        async with ctx.db.read() as session:
            user = await session.scalar(select(User).where(User.email == email))
        stored = user.password_hash if user else _dummy_hash(ctx.passwords)
        ok = await asyncio.to_thread(ctx.passwords.verify, password, stored)
    except Exception:
        await ctx.limiter.cancel(attempt)  # our failure, not a wrong password
        raise
    if user is None or not ok:
        raise BadCredentials()
    await ctx.limiter.login_succeeded(attempt)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    async with ctx.db.write() as session:
        session.add(
            AuthSession(
                token_hash=_digest(token),
                user_id=user.id,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + timedelta(days=ctx.session_days),
            )
        )
    return Login(user=user, session_token=token, csrf_token=csrf)


async def _end_principal(ctx: Context, key: str) -> None:
    """After the commit that ended a credential: forget it here at once, and tell every node
    (including this one) to forget it and close its sockets."""
    ctx.principals.forget(key)
    await ctx.broker.revoke([key])


async def do_logout(ctx: Context, session_token: str) -> None:
    async with ctx.db.write() as session:
        await session.execute(
            delete(AuthSession).where(AuthSession.token_hash == _digest(session_token))
        )
    await _end_principal(ctx, "s:" + _digest(session_token))


_USER_COLUMNS = tuple(User.__table__.columns)
_BY_SESSION = DirectQuery(
    select(*_USER_COLUMNS, AuthSession.expires_at, AuthSession.csrf_token)
    .join(AuthSession, AuthSession.user_id == User.id)
    .where(AuthSession.token_hash == bindparam("token_hash"))
)
_BY_TOKEN = DirectQuery(
    select(*_USER_COLUMNS)
    .join(AccessToken, AccessToken.user_id == User.id)
    .where(AccessToken.token_hash == bindparam("token_hash"))
)


def _user(row: dict[str, Any]) -> User:
    return User(**{column.key: row[column.key] for column in _USER_COLUMNS})


async def _caller(ctx: Context, key: str, query: DirectQuery) -> CachedCaller:
    """Who ``key`` (a kind prefix and a credential digest) belongs to: from the short-lived
    cache (parlay.services.principals) or a direct read (parlay.db.direct), since this runs on
    every request."""

    async def read() -> tuple[User, str | None, datetime | None] | None:
        row = await ctx.db.direct.fetch_one(query, token_hash=key[2:])
        if row is None:
            return None
        return _user(row), row.get("csrf_token"), row.get("expires_at")

    cached = ctx.principals.get(key)
    if cached is not None:
        ctx.principals.refresh(key, cached, read)  # in the background, when it is due
        return cached
    read_at = ctx.principals.monotonic()
    found = await read()
    if found is None:
        raise Unauthenticated()
    user, csrf_token, expires_at = found
    return ctx.principals.put(
        key, user, csrf_token=csrf_token, expires_at=expires_at, read_at=read_at
    )


async def authenticate_session(ctx: Context, session_token: str) -> Principal:
    key = "s:" + _digest(session_token)
    cached = await _caller(ctx, key, _BY_SESSION)
    if cached.expires_at is None or cached.expires_at <= ctx.now():
        raise Unauthenticated()
    return Principal(user=cached.user, via_session=True, csrf_token=cached.csrf_token, key=key)


async def authenticate_token(ctx: Context, token: str) -> Principal:
    if not token.startswith(TOKEN_PREFIX):
        raise Unauthenticated()
    key = "t:" + _digest(token)
    cached = await _caller(ctx, key, _BY_TOKEN)
    if ctx.principals.due_for_use_write(key):
        # Not waited for: bookkeeping, not the request's work (and best effort anyway).
        ctx.principals.in_background("u" + key, _record_token_use(ctx, key[2:]))
    return Principal(user=cached.user, via_session=False, key=key)


async def _record_token_use(ctx: Context, token_hash: str) -> None:
    """Store that a token was just used.  At most about once a minute per token: this process
    asks at most once a minute (``PrincipalCache.due_for_use_write``), and the statement skips
    a row another node stamped within the minute.  Best effort: a failure is logged, never the
    request's problem."""
    now = ctx.now()
    try:
        async with ctx.db.write() as session:
            await session.execute(
                update(AccessToken)
                .where(
                    AccessToken.token_hash == token_hash,
                    or_(
                        AccessToken.last_used_at.is_(None),
                        AccessToken.last_used_at <= now - TOKEN_USE_RESOLUTION,
                    ),
                )
                .values(last_used_at=now)
                .execution_options(synchronize_session=False)
            )
    except Exception:
        log.warning("could not record an access token's last use", exc_info=True)


class TokenRead(BaseModel):
    """A personal access token as its owner sees it: never the secret, nor its hash."""

    id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None

    @classmethod
    def of(cls, row: AccessToken) -> TokenRead:
        return cls(
            id=row.id, name=row.name, created_at=row.created_at, last_used_at=row.last_used_at
        )


def _require_session(principal: Principal) -> None:
    """Tokens are managed from a signed-in browser session only, so a leaked token can neither
    mint more tokens nor list or revoke the others."""
    if not principal.via_session:
        raise SessionRequired()


async def do_create_token(ctx: Context, principal: Principal, name: str) -> tuple[TokenRead, str]:
    _require_session(principal)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = AccessToken(
        token_hash=_digest(token),
        user_id=principal.user.id,
        name=name.strip(),
        created_at=ctx.now(),
    )
    async with ctx.db.write() as session:
        session.add(row)
    return TokenRead.of(row), token


async def list_tokens(
    ctx: Context, principal: Principal, *, after: tuple[str, str] | None, limit: int
) -> tuple[list[TokenRead], tuple[str, str] | None]:
    """The caller's tokens, newest first, a page at a time (keyset on created_at, id)."""
    _require_session(principal)
    query = select(AccessToken).where(AccessToken.user_id == principal.user.id)
    if after is not None:
        try:
            created = datetime.fromisoformat(after[0])
        except ValueError as exc:
            raise InvalidInput("The cursor is not valid.", field="cursor") from exc
        if created.tzinfo is None or "\x00" in after[1]:
            raise InvalidInput("The cursor is not valid.", field="cursor")
        query = query.where(
            or_(
                AccessToken.created_at < created,
                and_(AccessToken.created_at == created, AccessToken.id < after[1]),
            )
        )
    query = query.order_by(AccessToken.created_at.desc(), AccessToken.id.desc()).limit(limit + 1)
    async with ctx.db.read() as session:
        rows = list((await session.scalars(query)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = (rows[-1].created_at.isoformat(), rows[-1].id) if more and rows else None
    return [TokenRead.of(r) for r in rows], cursor


async def do_revoke_token(ctx: Context, principal: Principal, token_id: str) -> None:
    """Delete one of the caller's tokens; it stops working at once here and, through the
    broker, on every node (open sockets signed in with it close).  404 for any other id."""
    _require_session(principal)
    async with ctx.db.write() as session:
        token_hash = await session.scalar(
            delete(AccessToken)
            .where(AccessToken.id == token_id, AccessToken.user_id == principal.user.id)
            .returning(AccessToken.token_hash)
        )
    if token_hash is None:
        raise NotFound("No such token.")
    await _end_principal(ctx, "t:" + token_hash)


class SessionRead(BaseModel):
    """A login session as its owner sees it: an opaque id, never the token nor its hash."""

    id: str
    created_at: datetime
    expires_at: datetime
    #: True for the session the request came with.
    current: bool


async def list_sessions(ctx: Context, principal: Principal) -> list[SessionRead]:
    """The caller's live (unexpired) login sessions, newest first.  From a session only, like
    tokens: a leaked token cannot see or end the browser sessions."""
    _require_session(principal)
    query = (
        select(AuthSession)
        .where(AuthSession.user_id == principal.user.id, AuthSession.expires_at > ctx.now())
        .order_by(AuthSession.created_at.desc(), AuthSession.id.desc())
    )
    async with ctx.db.read() as session:
        rows = list((await session.scalars(query)).all())
    return [
        SessionRead(
            id=row.id,
            created_at=row.created_at,
            expires_at=row.expires_at,
            current="s:" + row.token_hash == principal.key,
        )
        for row in rows
    ]


async def do_revoke_session(ctx: Context, principal: Principal, session_id: str) -> bool:
    """End one of the caller's sessions as a logout would (cache entries forgotten, sockets
    closed on every node); True when it was the caller's own.  404 for any other id."""
    _require_session(principal)
    async with ctx.db.write() as session:
        token_hash = await session.scalar(
            delete(AuthSession)
            .where(AuthSession.id == session_id, AuthSession.user_id == principal.user.id)
            .returning(AuthSession.token_hash)
        )
    if token_hash is None:
        raise NotFound("No such session.")
    key = "s:" + token_hash
    await _end_principal(ctx, key)
    return key == principal.key


TIME_FORMATS = ("auto", "12h", "24h")


async def do_update_profile(
    ctx: Context,
    user: User,
    *,
    display_name: str | None,
    time_zone: str | None,
    time_format: str | None = None,
) -> User:
    if time_zone is not None:
        parse_time_zone(time_zone)
    if time_format is not None and time_format not in TIME_FORMATS:
        raise InvalidInput("The clock must be auto, 12h or 24h.", field="time_format")
    async with ctx.db.write() as session:
        row = await session.get(User, user.id)
        assert row is not None
        if display_name is not None:
            row.display_name = display_name.strip()
        if time_zone is not None:
            row.time_zone = time_zone
        if time_format is not None:
            row.time_format = time_format
    ctx.principals.forget_user(user.id)
    return row


async def get_user_by_email(ctx: Context, email: str) -> User | None:
    async with ctx.db.read() as session:
        return await session.scalar(select(User).where(User.email == normalize_email(email)))
