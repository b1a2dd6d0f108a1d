"""Accounts: signup, login, logout, me, tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from parlay.services import accounts
from parlay.services.views import MeRead, UserRead
from parlay.web.deps import SESSION_COOKIE, CtxDep, PrincipalDep, UserDep, client_address
from parlay.web.pagination import CursorParam, Limit, decode_cursor, encode_cursor
from parlay.web.schemas.accounts import LoginIn, ProfileIn, SignupIn, TokenIn

router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.post("/auth/signup", status_code=201, response_model=UserRead)
async def signup(body: SignupIn, ctx: CtxDep) -> UserRead:
    user = await accounts.do_signup(
        ctx,
        email=body.email,
        password=body.password,
        display_name=body.display_name,
        time_zone=body.time_zone,
    )
    return UserRead.of(user)


@router.post("/auth/login")
async def login(body: LoginIn, request: Request, response: Response, ctx: CtxDep) -> dict[str, Any]:
    done = await accounts.check_login(
        ctx, email=body.email, password=body.password, address=client_address(request)
    )
    settings = request.app.state.settings
    response.set_cookie(
        SESSION_COOKIE,
        done.session_token,
        max_age=settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )
    return {"user": UserRead.of(done.user).model_dump(), "csrf_token": done.csrf_token}


@router.post("/auth/logout", status_code=204)
async def logout(request: Request, response: Response, ctx: CtxDep, _p: PrincipalDep) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await accounts.do_logout(ctx, token)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me", response_model=MeRead)
async def me(principal: PrincipalDep) -> MeRead:
    return MeRead(**UserRead.of(principal.user).model_dump(), csrf_token=principal.csrf_token)


@router.patch("/me", response_model=UserRead)
async def update_me(body: ProfileIn, ctx: CtxDep, user: UserDep) -> UserRead:
    updated = await accounts.do_update_profile(
        ctx,
        user,
        display_name=body.display_name,
        time_zone=body.time_zone,
        time_format=body.time_format,
    )
    return UserRead.of(updated)


# Sessions, like tokens, are managed from a cookie session only (403 session_required).
@router.get("/me/sessions")
async def list_sessions(ctx: CtxDep, principal: PrincipalDep) -> dict[str, Any]:
    """The caller's live login sessions, newest first (one page: sessions are few)."""
    found = await accounts.list_sessions(ctx, principal)
    return {"sessions": [s.model_dump(mode="json") for s in found], "next_cursor": None}


@router.delete("/me/sessions/{session_id}", status_code=204)
async def revoke_session(
    session_id: str, response: Response, ctx: CtxDep, principal: PrincipalDep
) -> None:
    """Sign a session out as logout does (its sockets close with 4401 on every node); the
    caller's own session also loses its cookie.  404 for an unknown id or someone else's."""
    if await accounts.do_revoke_session(ctx, principal, session_id):
        response.delete_cookie(SESSION_COOKIE, path="/")


# Tokens are managed from a cookie session only: a Bearer caller gets 403 session_required.
@router.post("/me/tokens", status_code=201)
async def create_token(body: TokenIn, ctx: CtxDep, principal: PrincipalDep) -> dict[str, Any]:
    made, token = await accounts.do_create_token(ctx, principal, body.name)
    return {**made.model_dump(mode="json"), "token": token}


@router.get("/me/tokens")
async def list_tokens(
    ctx: CtxDep, principal: PrincipalDep, cursor: CursorParam = None, limit: Limit = 50
) -> dict[str, Any]:
    page, after = await accounts.list_tokens(
        ctx, principal, after=decode_cursor(cursor, str, str), limit=limit
    )
    return {
        "tokens": [t.model_dump(mode="json") for t in page],
        "next_cursor": encode_cursor(list(after) if after else None),
    }


@router.delete("/me/tokens/{token_id}", status_code=204)
async def revoke_token(token_id: str, ctx: CtxDep, principal: PrincipalDep) -> None:
    await accounts.do_revoke_token(ctx, principal, token_id)
