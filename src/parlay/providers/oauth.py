"""OAuth 2 authorization code + PKCE for the cloud providers (Google, Microsoft), via Authlib.

One ``OAuthClient`` per configured provider: it builds the authorization URL (``state`` and an
S256 code challenge), trades the code for tokens and refreshes them.  Token-endpoint answers
are classified into :mod:`parlay.providers.errors`: ``invalid_grant`` (revoked, expired,
already used) is :class:`AuthExpired`; an unavailable or garbled endpoint is
:class:`Transient`; anything else the provider refuses is :class:`InvalidCredentials`.
Tokens are never logged.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import authlib.deprecate  # noqa: F401 - installs its own "always" filter before ours below
import httpx

with warnings.catch_warnings():
    # Authlib 1.9 would rather run on the httpx2 fork; its httpx client works and is what the
    # rest of Parlay uses, so the notice is not for our users' terminals.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.common.errors import AuthlibBaseError
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

from parlay.providers.dto import Credentials
from parlay.providers.errors import (
    AuthExpired,
    InvalidCredentials,
    ProviderError,
    RateLimited,
    Transient,
)

log = logging.getLogger("parlay.providers.oauth")

GOOGLE_SCOPES = ("openid", "email", "https://www.googleapis.com/auth/calendar")
MICROSOFT_SCOPES = ("openid", "email", "offline_access", "User.Read", "Calendars.ReadWrite")
TOKEN_TIMEOUT = 15.0


@dataclass(frozen=True)
class OAuthConfig:
    """One provider's OAuth client: who we are there and where its endpoints live."""

    provider: str
    client_id: str
    client_secret: str | None
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    #: Extra authorization parameters (Google: offline access and a consent prompt).
    authorize_params: Mapping[str, str] = field(default_factory=dict)
    #: A scope the token must carry for the link to be useful (Google lets users untick it).
    required_scope: str | None = None


def google_config(
    client_id: str, client_secret: str | None, authorize_url: str, token_url: str
) -> OAuthConfig:
    return OAuthConfig(
        provider="google",
        client_id=client_id,
        client_secret=client_secret,
        authorize_url=authorize_url,
        token_url=token_url,
        scopes=GOOGLE_SCOPES,
        # offline: a refresh token; consent: Google re-issues it when the user links again.
        authorize_params={"access_type": "offline", "prompt": "consent"},
        required_scope="https://www.googleapis.com/auth/calendar",
    )


def microsoft_config(client_id: str, client_secret: str | None, authority: str) -> OAuthConfig:
    base = authority.rstrip("/")
    return OAuthConfig(
        provider="microsoft",
        client_id=client_id,
        client_secret=client_secret,
        authorize_url=f"{base}/oauth2/v2.0/authorize",
        token_url=f"{base}/oauth2/v2.0/token",
        scopes=MICROSOFT_SCOPES,
        authorize_params={"prompt": "select_account"},
    )


class ScopeNotGranted(InvalidCredentials):
    """The user consented but unticked the calendar permission."""


class OAuthClient:
    def __init__(
        self,
        config: OAuthConfig,
        *,
        timeout: float = TOKEN_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.timeout = timeout
        self._transport = transport

    def _client(self, redirect_uri: str | None = None) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
            scope=" ".join(self.config.scopes),
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_post",
            timeout=self.timeout,
            transport=self._transport,
        )

    def authorization_url(self, redirect_uri: str, state: str, code_verifier: str) -> str:
        client = self._client(redirect_uri)
        url, _ = client.create_authorization_url(
            self.config.authorize_url,
            state=state,
            code_verifier=code_verifier,
            **dict(self.config.authorize_params),
        )
        return str(url)

    async def exchange_code(self, code: str, redirect_uri: str, code_verifier: str) -> Credentials:
        """Trade an authorization code for tokens (the code is single-use at the provider)."""
        async with self._client(redirect_uri) as client:
            token = await self._token_call(
                client.fetch_token(
                    self.config.token_url,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                )
            )
        self._check_scope(token)
        return _credentials(token, previous_refresh=None)

    async def refresh(self, stale: Credentials) -> Credentials:
        """New tokens for ``stale``; a rotated refresh token replaces the old one."""
        if not stale.refresh_token:
            raise AuthExpired("no refresh token stored")
        async with self._client() as client:
            token = await self._token_call(
                client.refresh_token(self.config.token_url, refresh_token=stale.refresh_token)
            )
        return _credentials(token, previous_refresh=stale.refresh_token)

    async def _token_call(self, call: Any) -> Mapping[str, Any]:
        try:
            token = await call
        except OAuthError as exc:
            raise _classify_oauth_error(exc.error) from None
        except httpx.HTTPStatusError as exc:
            raise _classify_status(exc.response) from None
        except (httpx.HTTPError, ValueError, AuthlibBaseError) as exc:
            raise Transient(f"token endpoint: {type(exc).__name__}") from None
        if not isinstance(token, Mapping) or not token.get("access_token"):
            raise Transient("token endpoint answered without an access token")
        return token

    def _check_scope(self, token: Mapping[str, Any]) -> None:
        wanted = self.config.required_scope
        granted = token.get("scope")
        if wanted and isinstance(granted, str) and wanted not in granted.split():
            raise ScopeNotGranted("scope_not_granted")


def _classify_oauth_error(error: str | None) -> ProviderError:
    if error == "invalid_grant":
        return AuthExpired("invalid_grant")
    if error in ("temporarily_unavailable", "server_error"):
        return Transient(f"token endpoint: {error}")
    if error == "slow_down":
        return RateLimited("token endpoint: slow_down")
    return InvalidCredentials(error or "token_refused")


def _classify_status(response: httpx.Response) -> ProviderError:
    if response.status_code == 429:
        after = response.headers.get("retry-after", "")
        return RateLimited("token endpoint", retry_after=float(after) if after.isdigit() else None)
    if response.status_code >= 500:
        return Transient(f"token endpoint: HTTP {response.status_code}")
    return InvalidCredentials(f"token endpoint: HTTP {response.status_code}")


def _credentials(token: Mapping[str, Any], previous_refresh: str | None) -> Credentials:
    expires_at: datetime | None = None
    expires_in = token.get("expires_in")
    if isinstance(expires_in, int | float) and expires_in > 0:
        expires_at = datetime.now(UTC) + timedelta(seconds=float(expires_in))
    refresh = token.get("refresh_token") or previous_refresh
    return Credentials(
        access_token=str(token["access_token"]),
        refresh_token=str(refresh) if refresh else None,
        expires_at=expires_at,
    )
