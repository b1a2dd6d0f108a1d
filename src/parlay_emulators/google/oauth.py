"""Google's OAuth 2 endpoints: authorize (consent page), token, revoke, userinfo, discovery."""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from .errors import oauth_error
from .store import CODE_SECONDS, AuthCode, Grant, Store

_PASSTHROUGH = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "access_type",
    "prompt",
    "login_hint",
    "include_granted_scopes",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "hd",
)


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _redirect(redirect_uri: str, params: dict[str, str]) -> RedirectResponse:
    parts = urlsplit(redirect_uri)
    query = parts.query + ("&" if parts.query else "") + urlencode(params)
    return RedirectResponse(urlunsplit(parts._replace(query=query)), status_code=302)


def _error_page(status: int, error: str, detail: str) -> HTMLResponse:
    body = (
        "<!doctype html><meta charset=utf-8><title>Error 400</title>"
        f"<h1>Access blocked: this request is invalid</h1><p>Error {status}: "
        f"<code>{html.escape(error)}</code></p><p>{html.escape(detail)}</p>"
    )
    return HTMLResponse(body, status_code=status)


def _check_request(store: Store, params: dict[str, str]) -> Response | None:
    """Errors Google shows on its own page (never redirected to an unchecked redirect_uri)."""
    client_id = params.get("client_id", "")
    if not client_id:
        return _error_page(400, "invalid_request", "Missing required parameter: client_id")
    client = store.clients.get(client_id)
    if store.clients and client is None:
        return _error_page(401, "invalid_client", "The OAuth client was not found.")
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri:
        return _error_page(400, "invalid_request", "Missing required parameter: redirect_uri")
    if client is not None and client.redirect_uris and redirect_uri not in client.redirect_uris:
        return _error_page(400, "redirect_uri_mismatch", f"redirect_uri={redirect_uri}")
    if not params.get("scope"):
        return _error_page(400, "invalid_request", "Missing required parameter: scope")
    method = params.get("code_challenge_method")
    if method and method not in ("S256", "plain"):
        return _error_page(400, "invalid_request", "Invalid code_challenge_method value.")
    if method and not params.get("code_challenge"):
        return _error_page(400, "invalid_request", "Missing required parameter: code_challenge")
    return None


async def authorize(request: Request) -> Response:
    store = _store(request)
    params = dict(request.query_params)
    with store.lock:
        problem = _check_request(store, params)
        if problem is not None:
            return problem
        state = {"state": params["state"]} if "state" in params else {}
        if params.get("response_type") != "code":
            return _redirect(params["redirect_uri"], {"error": "unsupported_response_type"} | state)
        prompts = params.get("prompt", "").split()
        if "none" in prompts:
            hint = params.get("login_hint", "").lower()
            if (hint, params["client_id"]) not in store.consented:
                return _redirect(params["redirect_uri"], {"error": "interaction_required"} | state)
            return _issue_code(store, params, hint)
        accounts = sorted(store.accounts)
    return HTMLResponse(_consent_page(params, accounts))


def _consent_page(params: dict[str, str], accounts: list[str]) -> str:
    hint = params.get("login_hint", "").lower()
    hidden = "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(params[k])}">'
        for k in _PASSTHROUGH
        if k in params
    )
    choices = "".join(
        f'<label><input type="radio" name="account" value="{html.escape(a)}"'
        f"{' checked' if a == hint or (not hint and i == 0) else ''}> {html.escape(a)}</label><br>"
        for i, a in enumerate(accounts)
    )
    scopes = "".join(f"<li>{html.escape(s)}</li>" for s in params["scope"].split())
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width'>"
        "<title>Sign in - Google Accounts (emulator)</title>"
        "<main><h1>Choose an account</h1>"
        f"<p>to continue to <b>{html.escape(params['client_id'])}</b></p>"
        f'<form method="post" action="">{hidden}<fieldset><legend>Account</legend>{choices}'
        '<label>or another address <input type="email" name="email"></label></fieldset>'
        f"<p>This app wants to:</p><ul>{scopes}</ul>"
        '<button type="submit" name="decision" value="deny">Deny</button> '
        '<button type="submit" name="decision" value="allow">Allow</button>'
        "</form></main></html>"
    )


async def consent(request: Request) -> Response:
    store = _store(request)
    form = await request.form()
    params = {k: str(v) for k, v in form.items()}
    with store.lock:
        problem = _check_request(store, params)
        if problem is not None:
            return problem
        state = {"state": params["state"]} if "state" in params else {}
        if params.get("decision") != "allow":
            return _redirect(params["redirect_uri"], {"error": "access_denied"} | state)
        email = (params.get("email") or params.get("account") or "").strip().lower()
        if not email or "@" not in email:
            return HTMLResponse(_consent_page(params, sorted(store.accounts)), status_code=400)
        store.add_account(email)
        return _issue_code(store, params, email)


def _issue_code(store: Store, params: dict[str, str], email: str) -> Response:
    client_id = params["client_id"]
    first = (email, client_id) not in store.consented
    offline = params.get("access_type") == "offline"
    grant = Grant(
        id=secrets.token_hex(8),
        account=email,
        client_id=client_id,
        scopes=params["scope"].split(),
        nonce=params.get("nonce"),
    )
    store.grants[grant.id] = grant
    store.consented.add((email, client_id))
    code = AuthCode(
        code="4/0emu-" + secrets.token_urlsafe(24),
        grant_id=grant.id,
        redirect_uri=params["redirect_uri"],
        code_challenge=params.get("code_challenge"),
        code_challenge_method=params.get("code_challenge_method") or "plain",
        issue_refresh=offline and (first or "consent" in params.get("prompt", "").split()),
        expires=store.now() + timedelta(seconds=CODE_SECONDS),
    )
    store.codes[code.code] = code
    out = {"code": code.code, "scope": params["scope"], "authuser": "0", "prompt": "consent"}
    if "state" in params:
        out["state"] = params["state"]
    return _redirect(params["redirect_uri"], out)


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str | None]:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            return cid, secret
        except ValueError:
            return "", None
    return form.get("client_id", ""), form.get("client_secret")


async def token(request: Request) -> Response:
    store = _store(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    client_id, secret = _client_credentials(request, form)
    with store.lock:
        client = store.clients.get(client_id)
        if not client_id or (store.clients and client is None):
            return oauth_error("invalid_client", "The OAuth client was not found.", 401)
        if client is not None and client.client_secret:
            if secret is None:
                return oauth_error("invalid_request", "client_secret is missing.")
            if not secrets.compare_digest(secret, client.client_secret):
                return oauth_error("invalid_client", "Unauthorized", 401)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return _exchange_code(request, store, form, client_id)
        if grant_type == "refresh_token":
            return _refresh(request, store, form, client_id)
        return oauth_error("unsupported_grant_type", f"Invalid grant_type: {grant_type}")


def _exchange_code(
    request: Request, store: Store, form: dict[str, str], client_id: str
) -> Response:
    code = store.codes.get(form.get("code", ""))
    if code is None or code.used or code.expires <= store.now():
        return oauth_error("invalid_grant", "Bad Request")
    grant = store.grants[code.grant_id]
    if grant.client_id != client_id:
        return oauth_error("unauthorized_client", "Unauthorized")
    if form.get("redirect_uri") != code.redirect_uri:
        return oauth_error("redirect_uri_mismatch", "Bad Request")
    if code.code_challenge:
        verifier = form.get("code_verifier")
        if not verifier:
            return oauth_error("invalid_grant", "Missing code verifier.")
        if code.code_challenge_method == "S256":
            digest = hashlib.sha256(verifier.encode()).digest()
            computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        else:
            computed = verifier
        if not secrets.compare_digest(computed, code.code_challenge):
            return oauth_error("invalid_grant", "Invalid code verifier.")
    code.used = True
    body = _token_body(request, store, grant)
    if code.issue_refresh:
        refresh = "1//0emu-" + secrets.token_urlsafe(32)
        grant.refresh_token = refresh
        store.refresh_tokens[refresh] = grant.id
        body["refresh_token"] = refresh
    return _no_store(body)


def _refresh(request: Request, store: Store, form: dict[str, str], client_id: str) -> Response:
    grant_id = store.refresh_tokens.get(form.get("refresh_token", ""))
    grant = store.grants.get(grant_id or "")
    if grant is None or grant.revoked:
        return oauth_error("invalid_grant", "Token has been expired or revoked.")
    if grant.client_id != client_id:
        return oauth_error("unauthorized_client", "Unauthorized")
    return _no_store(_token_body(request, store, grant))


def _no_store(body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, headers={"Cache-Control": "no-cache, no-store, max-age=0"})


def _token_body(request: Request, store: Store, grant: Grant) -> dict[str, Any]:
    access = store.issue_access_token(grant)
    body: dict[str, Any] = {
        "access_token": access.token,
        "expires_in": int((access.expires - store.now()).total_seconds()),
        "scope": " ".join(grant.scopes),
        "token_type": "Bearer",
    }
    if "openid" in grant.scopes:
        account = store.accounts[grant.account]
        now = int(store.now().timestamp())
        claims: dict[str, Any] = {
            "iss": issuer(request),
            "azp": grant.client_id,
            "aud": grant.client_id,
            "sub": account.sub,
            "iat": now,
            "exp": now + 3600,
        }
        if "email" in grant.scopes:
            claims |= {"email": account.email, "email_verified": True}
        if "profile" in grant.scopes:
            claims["name"] = account.name
        if account.hd:
            claims["hd"] = account.hd
        if grant.nonce:
            claims["nonce"] = grant.nonce
        body["id_token"] = request.app.state.signer.sign(claims)
    return body


async def revoke(request: Request) -> Response:
    store = _store(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    value = request.query_params.get("token") or form.get("token", "")
    with store.lock:
        grant_id = store.refresh_tokens.get(value)
        if grant_id is None and value in store.access_tokens:
            grant_id = store.access_tokens[value].grant_id
        grant = store.grants.get(grant_id or "")
        if grant is None or grant.revoked:
            return oauth_error("invalid_token", "Token expired or revoked")
        store.revoke_grant(grant)
    return JSONResponse({})


async def userinfo(request: Request) -> Response:
    store = _store(request)
    auth = request.headers.get("authorization", "")
    with store.lock:
        grant = store.grant_for_access_token(auth[7:]) if auth[:7].lower() == "bearer " else None
        if grant is None:
            return oauth_error(
                "invalid_request",
                "Invalid Credentials",
                401,
                headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
            )
        account = store.accounts[grant.account]
        info: dict[str, Any] = {"sub": account.sub}
        if "email" in grant.scopes:
            info |= {"email": account.email, "email_verified": True}
        if "profile" in grant.scopes:
            info |= {"name": account.name, "given_name": account.name.split()[0]}
        if account.hd:
            info["hd"] = account.hd
    return JSONResponse(info)


def issuer(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def openid_configuration(request: Request) -> Response:
    base = issuer(request)
    return JSONResponse(
        {
            "issuer": base,
            "authorization_endpoint": f"{base}/o/oauth2/v2/auth",
            "token_endpoint": f"{base}/token",
            "userinfo_endpoint": f"{base}/v1/userinfo",
            "revocation_endpoint": f"{base}/revoke",
            "jwks_uri": f"{base}/oauth2/v3/certs",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["plain", "S256"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
        }
    )


async def jwks(request: Request) -> Response:
    return JSONResponse({"keys": [request.app.state.signer.jwk]})
