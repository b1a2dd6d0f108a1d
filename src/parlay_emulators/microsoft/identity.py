"""Microsoft identity platform v2.0: ``/{tenant}/oauth2/v2.0/authorize`` and ``/token``."""

from __future__ import annotations

import base64
import html
import secrets
import uuid
from datetime import timedelta
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from . import tokens
from .errors import OAuthError, oauth_error
from .store import PERSONAL_TENANT, WORK_TENANT, AccessToken, Account, AuthRequest, Code, Store, now

CODE_SECONDS = 600
TENANTS = {"common", "organizations", "consumers", PERSONAL_TENANT, WORK_TENANT}


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _error_page(status: int, aadsts: int, message: str) -> HTMLResponse:
    text = html.escape(f"AADSTS{aadsts}: {message}")
    return HTMLResponse(
        f"<!doctype html><title>Sign in</title><h1>Sorry, but we're having trouble signing you in.</h1><p>{text}</p>",
        status,
    )


def _respond(redirect_uri: str, mode: str, params: dict[str, str]) -> Response:
    """Back to the client: query string (default), fragment, or an auto-submitted form_post."""
    if mode == "form_post":
        fields = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
        )
        return HTMLResponse(
            f'<!doctype html><body onload="document.forms[0].submit()"><form method="post" '
            f'action="{html.escape(redirect_uri)}">{fields}<noscript><button>Continue</button></noscript></form></body>'
        )
    joiner = "#" if mode == "fragment" else ("&" if "?" in redirect_uri else "?")
    return RedirectResponse(redirect_uri + joiner + urlencode(params), status_code=302)


def _eligible(store: Store, tenant: str) -> list[Account]:
    accounts = list(store.accounts.values())
    if tenant in ("consumers", PERSONAL_TENANT):
        return [a for a in accounts if a.kind == "personal"]
    if tenant in ("organizations", WORK_TENANT):
        return [a for a in accounts if a.kind == "work"]
    return accounts


async def authorize(request: Request) -> Response:
    store = _store(request)
    tenant = request.path_params["tenant"]
    q = request.query_params
    if tenant not in TENANTS:
        return _error_page(400, 90002, f"Tenant '{tenant}' not found.")
    client_id, redirect_uri = q.get("client_id"), q.get("redirect_uri")
    if not client_id:
        return _error_page(
            400, 900144, "The request body must contain the following parameter: 'client_id'."
        )
    if not redirect_uri:
        return _error_page(
            400, 900144, "The request body must contain the following parameter: 'redirect_uri'."
        )
    client = store.clients.get(client_id)
    if client is not None and client.redirect_uris and redirect_uri not in client.redirect_uris:
        return _error_page(
            400,
            50011,
            f"The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'.",
        )
    mode = q.get("response_mode") or "query"
    state = q.get("state")

    def fail(error: str, description: str) -> Response:
        params = {"error": error, "error_description": description}
        if state is not None:
            params["state"] = state
        return _respond(redirect_uri, mode, params)

    if q.get("response_type") != "code":
        return fail(
            "unsupported_response_type",
            "AADSTS700054: response_type 'code' is the only one this emulator serves.",
        )
    scopes = tokens.split(q.get("scope"))
    if not scopes:
        return fail(
            "invalid_request",
            "AADSTS900144: The request body must contain the following parameter: 'scope'.",
        )
    method = q.get("code_challenge_method") or "plain"
    if q.get("code_challenge") and method not in ("S256", "plain"):
        return fail("invalid_request", "AADSTS501491: Invalid code_challenge_method.")
    if q.get("prompt") == "none":
        return fail(
            "interaction_required",
            "AADSTS50058: A silent sign-in request was sent but no user is signed in.",
        )
    pending = AuthRequest(
        id=secrets.token_urlsafe(16),
        tenant=tenant,
        client_id=client_id,
        redirect_uri=redirect_uri,
        scopes=scopes,
        state=state,
        nonce=q.get("nonce"),
        code_challenge=q.get("code_challenge"),
        code_challenge_method=method,
        response_mode=mode,
        login_hint=q.get("login_hint"),
    )
    store.auth_requests[pending.id] = pending
    return _consent_page(store, pending)


def _consent_page(store: Store, pending: AuthRequest) -> HTMLResponse:
    accounts = _eligible(store, pending.tenant)
    hint = (pending.login_hint or "").lower()
    choices = []
    for index, account in enumerate(accounts):
        checked = " checked" if account.address.lower() == hint or (not hint and index == 0) else ""
        label = html.escape(f"{account.display_name} <{account.address}>")
        choices.append(
            f'<label><input type="radio" name="account" value="{account.id}"{checked}> {label}</label><br>'
        )
    if not accounts:
        choices.append('<label>E-mail <input name="new_account" type="email" required></label><br>')
    permissions = "".join(f"<li>{html.escape(s)}</li>" for s in pending.scopes)
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Permissions requested</title></head>
<body><h1>Permissions requested</h1><p>The application <b>{html.escape(pending.client_id)}</b> wants to:</p>
<ul>{permissions}</ul>
<form method="post"><input type="hidden" name="request" value="{pending.id}">
{"".join(choices)}
<button type="submit" name="action" value="accept">Accept</button>
<button type="submit" name="action" value="cancel" formnovalidate>Cancel</button></form></body></html>"""
    return HTMLResponse(body)


async def consent(request: Request) -> Response:
    store = _store(request)
    form = await request.form()
    pending = store.auth_requests.pop(str(form.get("request", "")), None)
    if pending is None:
        return _error_page(
            400, 90014, "The authorization request is unknown or was already answered."
        )
    params: dict[str, str] = {}
    if form.get("action") != "accept":
        params = {
            "error": "access_denied",
            "error_description": "AADSTS65004: User declined to consent to access the app.",
        }
    else:
        account = store.accounts.get(str(form.get("account", "")))
        new = str(form.get("new_account", "")).strip()
        if account is None and new:
            account = store.find_account(new) or store.add_account(new, mail=new)
        if account is None or account not in _eligible(store, pending.tenant):
            return _error_page(400, 50034, "The user account does not exist in this directory.")
        code = Code(
            value="M." + secrets.token_urlsafe(32),
            account_id=account.id,
            client_id=pending.client_id,
            redirect_uri=pending.redirect_uri,
            scopes=pending.scopes,
            nonce=pending.nonce,
            code_challenge=pending.code_challenge,
            code_challenge_method=pending.code_challenge_method,
            tenant=pending.tenant,
        )
        store.codes[code.value] = code
        params = {"code": code.value}
    if pending.state is not None:
        params["state"] = pending.state
    return _respond(pending.redirect_uri, pending.response_mode, params)


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str | None]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError as exc:
            raise OAuthError(
                "invalid_client", 7000215, "Invalid client secret provided.", status=401
            ) from exc
        return user, password
    return form.get("client_id", ""), form.get("client_secret")


def _authenticate_client(store: Store, client_id: str, secret: str | None) -> None:
    if not client_id:
        raise OAuthError(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        )
    client = store.clients.get(client_id)
    if client is None:
        return  # unregistered clients are accepted as they come
    if client.client_secret is None and secret:
        raise OAuthError(
            "invalid_client",
            700025,
            "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
            status=401,
        )
    if client.client_secret is not None and secret != client.client_secret:
        raise OAuthError(
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            status=401,
        )


def _require(form: dict[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise OAuthError(
            "invalid_request",
            900144,
            f"The request body must contain the following parameter: '{name}'.",
        )
    return value


async def token(request: Request) -> Response:
    try:
        return await _token(request)
    except OAuthError as exc:
        return oauth_error(exc)


async def _token(request: Request) -> Response:
    store = _store(request)
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise OAuthError(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        )
    form = {k: str(v) for k, v in (await request.form()).items()}
    client_id, secret = _client_credentials(request, form)
    _authenticate_client(store, client_id, secret)
    grant = _require(form, "grant_type")
    if grant == "authorization_code":
        value = _require(form, "code")
        code = store.codes.get(value)
        if code is None or code.client_id != client_id:
            raise OAuthError(
                "invalid_grant", 70000, "The provided value for the 'code' parameter is not valid."
            )
        if code.redeemed:
            raise OAuthError(
                "invalid_grant",
                54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
            )
        if now() - code.created > timedelta(seconds=CODE_SECONDS):
            raise OAuthError(
                "invalid_grant",
                70008,
                "The provided authorization code or refresh token has expired due to inactivity.",
            )
        if form.get("redirect_uri") != code.redirect_uri:
            raise OAuthError(
                "invalid_grant",
                50148,
                "The redirect_uri does not match the one used in the authorization request.",
            )
        if code.code_challenge and not tokens.pkce_ok(
            code.code_challenge, code.code_challenge_method, form.get("code_verifier", "")
        ):
            raise OAuthError(
                "invalid_grant",
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            )
        code.redeemed = True
        return _issue(
            request, store, code.account_id, client_id, code.scopes, code.tenant, code.nonce
        )
    if grant == "refresh_token":
        value = _require(form, "refresh_token")
        refresh = store.refresh_tokens.get(value)
        if refresh is None:
            raise OAuthError(
                "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid."
            )
        if refresh.status == "revoked":
            raise OAuthError(
                "invalid_grant",
                700082,
                "The refresh token has expired due to inactivity. The token was issued on a date and was inactive for 90.00:00:00.",
            )
        if refresh.status == "rotated":
            raise OAuthError(
                "invalid_grant",
                70000,
                "The provided grant has already been used: refresh tokens are rotated, use the newest one.",
            )
        if refresh.client_id != client_id:
            raise OAuthError(
                "invalid_grant", 70000, "The refresh token was issued to a different client."
            )
        refresh.status = "rotated"
        return _issue(
            request, store, refresh.account_id, client_id, refresh.scopes, refresh.tenant, None
        )
    raise OAuthError(
        "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant}'."
    )


def _issue(
    request: Request,
    store: Store,
    account_id: str,
    client_id: str,
    scopes: list[str],
    tenant: str,
    nonce: str | None,
) -> Response:
    account = store.accounts.get(account_id)
    if account is None:
        raise OAuthError(
            "invalid_grant", 50034, "The user account does not exist in this directory."
        )
    names = [tokens.normalize(s) for s in scopes]
    access = AccessToken(
        value="EwB" + secrets.token_urlsafe(64),
        account_id=account.id,
        client_id=client_id,
        scopes=[n for n in names if n not in tokens.OIDC_SCOPES],
        expires=now() + timedelta(seconds=store.access_token_seconds),
    )
    store.access_tokens[access.value] = access
    body: dict[str, object] = {
        "token_type": "Bearer",
        "scope": tokens.granted_text(scopes),
        "expires_in": store.access_token_seconds,
        "ext_expires_in": store.access_token_seconds,
        "access_token": access.value,
    }
    if "offline_access" in names:
        body["refresh_token"] = store.issue_refresh(account.id, client_id, scopes, tenant)
    if "openid" in names:
        body["id_token"] = _id_token(request, account, client_id, names, nonce)
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _id_token(
    request: Request, account: Account, client_id: str, names: list[str], nonce: str | None
) -> str:
    base = str(request.base_url).rstrip("/")
    claims: dict[str, object] = {
        "iss": f"{base}/{account.tenant_id}/v2.0",
        "aud": client_id,
        "sub": tokens.b64url(uuid.uuid5(uuid.NAMESPACE_URL, f"{client_id}/{account.id}").bytes),
        "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, account.id)),
        "tid": account.tenant_id,
        "preferred_username": account.user_principal_name,
        "name": account.display_name,
    }
    if "email" in names and account.mail:
        claims["email"] = account.mail
    if nonce:
        claims["nonce"] = nonce
    signer: tokens.Signer = request.app.state.signer
    return signer.id_token(claims)


async def openid_configuration(request: Request) -> Response:
    base = str(request.base_url).rstrip("/")
    tenant = request.path_params["tenant"]
    issuer_tenant = "{tenantid}" if tenant in ("common", "organizations", "consumers") else tenant
    return JSONResponse(
        {
            "issuer": f"{base}/{issuer_tenant}/v2.0",
            "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
            "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["S256", "plain"],
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "nonce",
                "preferred_username",
                "name",
                "tid",
                "ver",
                "oid",
                "email",
            ],
            "tenant_region_scope": None,
        }
    )


async def keys(request: Request) -> Response:
    signer: tokens.Signer = request.app.state.signer
    return JSONResponse(signer.jwks())


def routes() -> list[Route]:
    return [
        Route("/{tenant}/oauth2/v2.0/authorize", authorize, methods=["GET"]),
        Route("/{tenant}/oauth2/v2.0/authorize", consent, methods=["POST"]),
        Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
        Route(
            "/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration, methods=["GET"]
        ),
        Route("/{tenant}/discovery/v2.0/keys", keys, methods=["GET"]),
    ]
