"""Linking a Google or Microsoft calendar: the OAuth authorization-code flow with PKCE.

``start`` records one authorization request (the ``state``'s hash, the browser session that
asked, the sealed PKCE verifier, where to return) and gives the provider's authorization URL.
``finish`` accepts the provider's answer only in that same session, once, within
``STATE_TTL``: it marks the request used before anything else (a replay or a second tab finds
it spent), trades the code for tokens, discovers the account and its calendars, stores the
connection (in place of an earlier link of the same account) and reads its busy times.
Whatever goes wrong, the user lands back where they started with ``calendar=error`` and a
reason code; nothing half-linked is stored.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import delete, update

from parlay.db.calendar_models import OAuthState
from parlay.domain.errors import InvalidInput, ProviderNotConfigured
from parlay.providers import errors as perr
from parlay.providers.oauth import ScopeNotGranted
from parlay.services.calendars import CalendarService
from parlay.services.outbox import Permanent, Retryable, wall_clock
from parlay.services.uow import unit_of_work

log = logging.getLogger(__name__)

#: How long the user may take on the provider's consent screen.
STATE_TTL = timedelta(minutes=15)
_REASON = re.compile(r"[a-z0-9_]{1,64}")


@dataclass(frozen=True)
class Outcome:
    """Where to send the browser after the callback: ``return_to`` with the result added."""

    location: str
    linked: bool
    reason: str | None = None


class StateInvalid(Exception):
    """The callback's ``state`` is missing, foreign, expired or already used: link nothing."""


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def safe_return_to(raw: str | None) -> str:
    """A same-origin path to come back to (``/`` for anything else)."""
    if raw is None or raw == "":
        return "/"
    if (
        len(raw) > 1000
        or not raw.startswith("/")
        or raw.startswith("//")
        or "\\" in raw
        or any(ord(c) < 0x21 for c in raw)
    ):
        raise InvalidInput(
            "return_to must be a path on this site, like /rooms/abc.", field="return_to"
        )
    return raw


def with_result(return_to: str, **params: str) -> str:
    """``return_to`` with ``params`` added to its own query (replacing earlier values)."""
    parts = urlsplit(return_to)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query.extend(params.items())
    return urlunsplit(("", "", parts.path, urlencode(query), parts.fragment))


class CalendarOAuth:
    def __init__(self, calendars: CalendarService, base_url: str) -> None:
        self.calendars = calendars
        self.base_url = base_url.rstrip("/")

    def offered(self) -> list[str]:
        """The OAuth providers this deployment offers (their client id is set)."""
        return [key for key in ("google", "microsoft") if key in self.calendars.oauth]

    def redirect_uri(self, provider: str) -> str:
        return f"{self.base_url}/oauth/{provider}/callback"

    async def start(
        self, *, user_id: str, session_key: str, provider: str, return_to: str | None
    ) -> str:
        client = self.calendars.oauth.get(provider)
        if client is None:
            raise ProviderNotConfigured(field="provider")
        target = safe_return_to(return_to)
        state = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 characters: RFC 7636 wants 43-128
        now = wall_clock()
        async with unit_of_work(self.calendars.ctx) as uow:
            # Spent and abandoned requests go here, a few at a time, instead of in a sweep.
            await uow.session.execute(
                delete(OAuthState).where(OAuthState.created_at < now - STATE_TTL * 4)
            )
            uow.session.add(
                OAuthState(
                    state_hash=_digest(state),
                    session_key=session_key,
                    user_id=user_id,
                    provider=provider,
                    secret=self.calendars.secrets.encrypt({"verifier": verifier}),
                    return_to=target,
                    created_at=now,
                )
            )
        return client.authorization_url(self.redirect_uri(provider), state, verifier)

    async def finish(
        self,
        *,
        session_key: str | None,
        provider: str,
        state: str | None,
        code: str | None,
        error: str | None,
    ) -> Outcome:
        """Link the account the provider's answer names; raises ``StateInvalid`` when the
        answer does not belong to a request this browser session made."""
        request = await self._claim(session_key, provider, state)
        verifier = str(self.calendars.secrets.decrypt(request.secret)["verifier"])
        if error is not None or not code:
            return self._failed(request.return_to, error or "no_code")
        client = self.calendars.oauth.get(provider)
        if client is None:
            return self._failed(request.return_to, "provider_not_configured")
        try:
            credentials = await client.exchange_code(code, self.redirect_uri(provider), verifier)
            linked = await self.calendars.provider(provider, credentials, "").link()
        except ScopeNotGranted:
            return self._failed(request.return_to, "scope_not_granted")
        except perr.NotSupported as exc:
            reason = "mailbox_not_supported" if "mailbox" in str(exc).lower() else "not_supported"
            return self._failed(request.return_to, reason)
        except (perr.AuthExpired, perr.InvalidCredentials):
            return self._failed(request.return_to, "token_refused")
        except perr.ProviderError:
            return self._failed(request.return_to, "provider_unavailable")
        connection_id = await self.calendars.store_link(
            request.user_id, provider, linked, credentials
        )
        try:
            await self.calendars.sync(connection_id)
        except (Retryable, Permanent):
            await self.calendars.queue_sync(connection_id)
        return Outcome(with_result(request.return_to, calendar="linked"), linked=True)

    async def _claim(self, session_key: str | None, provider: str, state: str | None) -> OAuthState:
        if not state or not session_key or len(state) > 200:
            raise StateInvalid()
        now = wall_clock()
        async with unit_of_work(self.calendars.ctx) as uow:
            claimed = await uow.session.execute(
                update(OAuthState)
                .where(
                    OAuthState.state_hash == _digest(state),
                    OAuthState.session_key == session_key,
                    OAuthState.provider == provider,
                    OAuthState.used_at.is_(None),
                    OAuthState.created_at > now - STATE_TTL,
                )
                .values(used_at=now)
                .returning(OAuthState)
            )
            request = claimed.scalar_one_or_none()
        if request is None:
            log.info("oauth callback provider=%s: state refused", provider)
            raise StateInvalid()
        return request

    @staticmethod
    def _failed(return_to: str, reason: str) -> Outcome:
        code = reason if _REASON.fullmatch(reason) else "provider_error"
        return Outcome(with_result(return_to, calendar="error", reason=code), False, code)
