"""The emulator's in-memory state: accounts, OAuth grants, calendars, events, faults."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

ACCESS_TOKEN_SECONDS = 3599
CODE_SECONDS = 600
# Alphabet of Google's base32hex ids.
_B32HEX = "0123456789abcdefghijklmnopqrstuv"


def new_id(length: int = 26) -> str:
    return "".join(secrets.choice(_B32HEX) for _ in range(length))


def rfc3339(instant: datetime) -> str:
    """Google's own format for `created`/`updated`: UTC with milliseconds."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{instant.microsecond // 1000:03d}Z"
    )


@dataclass
class Account:
    email: str
    sub: str
    name: str
    time_zone: str = "UTC"
    hd: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "sub": self.sub,
            "name": self.name,
            "time_zone": self.time_zone,
            "hd": self.hd,
        }


@dataclass
class Client:
    client_id: str
    client_secret: str | None = None
    redirect_uris: list[str] = field(default_factory=list)


@dataclass
class Grant:
    """One consent: an account's scopes for a client. Tokens die with it."""

    id: str
    account: str
    client_id: str
    scopes: list[str]
    nonce: str | None = None
    refresh_token: str | None = None
    revoked: bool = False


@dataclass
class AuthCode:
    code: str
    grant_id: str
    redirect_uri: str
    code_challenge: str | None
    code_challenge_method: str
    issue_refresh: bool
    expires: datetime
    used: bool = False


@dataclass
class AccessToken:
    token: str
    grant_id: str
    expires: datetime


@dataclass
class Calendar:
    id: str
    owner: str
    summary: str
    time_zone: str
    primary: bool
    sync_generation: int = 0
    seq: int = 0  # bumped by every event write; sync tokens point into it


@dataclass
class StoredEvent:
    calendar_id: str
    seq: int
    data: dict[str, Any]  # the Google Event resource as it is returned

    @property
    def deleted(self) -> bool:
        return bool(self.data.get("status") == "cancelled")


@dataclass
class Fault:
    operation: str  # e.g. "calendar.events.insert", "oauth.token" or "*"
    status: int | None  # None: answer as usual (a delay only)
    remaining: int
    retry_after: int | None = None
    reason: str | None = None
    after: bool = False  # do the work, then answer with the fault (a lost response)
    delay_seconds: float = 0.0  # hold the call this long (before the work, or after it)


@dataclass
class Store:
    accounts: dict[str, Account] = field(default_factory=dict)
    clients: dict[str, Client] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # token -> grant id
    consented: set[tuple[str, str]] = field(default_factory=set)  # (account, client_id)
    calendars: dict[str, Calendar] = field(default_factory=dict)
    events: dict[tuple[str, str], StoredEvent] = field(default_factory=dict)
    sync_tokens: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    page_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    clock_offset: timedelta = timedelta(0)
    lock: threading.RLock = field(default_factory=threading.RLock)

    # -- time -----------------------------------------------------------------------------
    def now(self) -> datetime:
        return datetime.now(UTC) + self.clock_offset

    # -- accounts and calendars -----------------------------------------------------------
    def add_account(
        self,
        email: str,
        name: str | None = None,
        time_zone: str = "UTC",
        hd: str | None = None,
        sub: str | None = None,
    ) -> Account:
        email = email.strip().lower()
        account = self.accounts.get(email)
        if account is None:
            account = Account(
                email=email,
                sub=sub or str(100000000000000000000 + secrets.randbelow(10**20)),
                name=name or email.split("@")[0].title(),
                time_zone=time_zone,
                hd=hd,
            )
            self.accounts[email] = account
            self.calendars[email] = Calendar(
                id=email, owner=email, summary=email, time_zone=time_zone, primary=True
            )
        return account

    def add_calendar(
        self, owner: str, summary: str, time_zone: str | None = None, id: str | None = None
    ) -> Calendar:
        account = self.accounts[owner]
        cal_id = id or f"{new_id(26)}@group.calendar.google.com"
        calendar = Calendar(
            id=cal_id,
            owner=account.email,
            summary=summary,
            time_zone=time_zone or account.time_zone,
            primary=False,
        )
        self.calendars[cal_id] = calendar
        return calendar

    def calendars_of(self, account: str) -> list[Calendar]:
        return [c for c in self.calendars.values() if c.owner == account]

    # -- OAuth ----------------------------------------------------------------------------
    def issue_access_token(self, grant: Grant) -> AccessToken:
        token = AccessToken(
            token="ya29.emu-" + secrets.token_urlsafe(32),
            grant_id=grant.id,
            expires=self.now() + timedelta(seconds=ACCESS_TOKEN_SECONDS),
        )
        self.access_tokens[token.token] = token
        return token

    def grant_for_access_token(self, token: str) -> Grant | None:
        found = self.access_tokens.get(token)
        if found is None or found.expires <= self.now():
            return None
        grant = self.grants.get(found.grant_id)
        if grant is None or grant.revoked:
            return None
        return grant

    def revoke_grant(self, grant: Grant) -> None:
        grant.revoked = True

    # -- events ---------------------------------------------------------------------------
    def bump(self, calendar: Calendar) -> int:
        calendar.seq += 1
        return calendar.seq

    def calendar_events(self, calendar_id: str) -> list[StoredEvent]:
        return [e for (cal, _), e in self.events.items() if cal == calendar_id]

    def new_sync_token(self, calendar: Calendar, seq: int) -> str:
        token = "CP" + secrets.token_urlsafe(18)
        self.sync_tokens[token] = (calendar.id, seq, calendar.sync_generation)
        return token

    # -- faults ---------------------------------------------------------------------------
    def take_fault(self, operation: str) -> Fault | None:
        for fault in self.faults:
            if fault.remaining > 0 and fault.operation in (operation, "*"):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.faults.remove(fault)
                return fault
        return None
