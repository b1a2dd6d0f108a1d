"""Request dependencies: the container, the calling user, CSRF on cookie writes."""

from __future__ import annotations

import hmac
import ipaddress
from typing import Annotated

from fastapi import Depends, Request

from parlay.db.models import User
from parlay.domain.errors import Forbidden, Unauthenticated
from parlay.services.accounts import Principal, authenticate_session, authenticate_token
from parlay.services.context import Context

SESSION_COOKIE = "parlay_session"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class CsrfFailed(Forbidden):
    code = "csrf_failed"
    default_message = "Missing or wrong X-CSRF-Token header."


async def get_ctx(request: Request) -> Context:
    # Dependencies are coroutines: FastAPI runs a plain ``def`` one in its thread pool, a
    # thread hop on every request for nothing.
    ctx: Context = request.app.state.ctx
    return ctx


def client_address(request: Request) -> str:
    """Who is calling, for rate limits: the peer, or with PARLAY_TRUSTED_PROXIES the client
    that X-Forwarded-For names (set by uvicorn's ProxyHeadersMiddleware, see parlay.main).
    An IPv6 client counts as its /64, the block one host usually has to itself."""
    host = request.client.host if request.client else ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host[:100] or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network((ip, 64), strict=False))
    return str(ip)


def bearer_token(authorization: str | None) -> str | None:
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


async def optional_principal(request: Request) -> Principal | None:
    ctx = await get_ctx(request)
    token = bearer_token(request.headers.get("authorization"))
    if token is not None:
        return await authenticate_token(ctx, token)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        principal = await authenticate_session(ctx, cookie)
    except Unauthenticated:
        return None
    if request.method not in SAFE_METHODS:
        # Headers arrive decoded as latin-1; compare the raw bytes (compare_digest refuses a
        # non-ASCII str with a TypeError: any header value must be a 403, never a 500).
        sent = request.headers.get("x-csrf-token", "").encode("latin-1")
        expected = (principal.csrf_token or "").encode()
        if not expected or not hmac.compare_digest(sent, expected):
            raise CsrfFailed()
    return principal


async def require_principal(request: Request) -> Principal:
    principal = await optional_principal(request)
    if principal is None:
        raise Unauthenticated()
    return principal


async def require_user(request: Request) -> User:
    # Flat on purpose: each nested dependency costs FastAPI a solving pass per request.
    return (await require_principal(request)).user


CtxDep = Annotated[Context, Depends(get_ctx)]
UserDep = Annotated[User, Depends(require_user)]
PrincipalDep = Annotated[Principal, Depends(require_principal)]
