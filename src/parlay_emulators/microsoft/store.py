"""Everything the emulator remembers, in memory: accounts, calendars, events, grants, faults."""

from __future__ import annotations

import base64
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

PERSONAL_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"  # Microsoft's fixed consumer tenant
WORK_TENANT = "72f988bf-0000-4000-8000-0000000e3a1a"  # the emulator's one work/school tenant


def now() -> datetime:
    return datetime.now(UTC)


def graph_id(prefix: str = "AAMkAD") -> str:
    """Long, opaque, URL-safe ids shaped like Outlook's (``AAMkAG...=``)."""
    return prefix + base64.urlsafe_b64encode(secrets.token_bytes(48)).decode().rstrip("=") + "="


@dataclass
class Account:
    id: str
    user_principal_name: str
    mail: str | None
    display_name: str
    kind: str = "personal"  # personal | work
    on_premises: bool = False  # calendar routes answer MailboxNotEnabledForRESTAPI
    time_zone: str = "UTC"

    @property
    def tenant_id(self) -> str:
        return PERSONAL_TENANT if self.kind == "personal" else WORK_TENANT

    @property
    def address(self) -> str:
        return self.mail or self.user_principal_name

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "userPrincipalName": self.user_principal_name,
            "mail": self.mail,
            "displayName": self.display_name,
            "kind": self.kind,
            "on_premises": self.on_premises,
            "tenant_id": self.tenant_id,
            "time_zone": self.time_zone,
        }


@dataclass
class Calendar:
    id: str
    account_id: str
    name: str
    is_default: bool = False
    color: str = "auto"
    change_key: str = field(default_factory=lambda: secrets.token_urlsafe(12))


@dataclass
class Event:
    id: str
    account_id: str
    calendar_id: str
    start: datetime  # UTC instants; for all-day events, midnights of start_tz
    end: datetime
    start_tz: str
    end_tz: str
    props: dict[str, Any]  # the writable Graph properties as last written
    start_date: date | None = None  # all-day events keep their dates (floating midnights)
    end_date: date | None = None
    transaction_id: str | None = None
    created: datetime = field(default_factory=now)
    modified: datetime = field(default_factory=now)
    change_key: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    ical_uid: str = field(
        default_factory=lambda: "040000008200E00074C5B7101A82E008" + secrets.token_hex(28).upper()
    )
    deleted: bool = False

    @property
    def etag(self) -> str:
        return f'W/"{self.change_key}"'

    def touch(self) -> None:
        self.modified = now()
        self.change_key = secrets.token_urlsafe(16)


@dataclass
class AuthRequest:
    """An authorize request waiting on the consent page."""

    id: str
    tenant: str
    client_id: str
    redirect_uri: str
    scopes: list[str]
    state: str | None
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str
    response_mode: str
    login_hint: str | None
    created: datetime = field(default_factory=now)


@dataclass
class Code:
    value: str
    account_id: str
    client_id: str
    redirect_uri: str
    scopes: list[str]
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str
    tenant: str
    created: datetime = field(default_factory=now)
    redeemed: bool = False


@dataclass
class RefreshToken:
    value: str
    account_id: str
    client_id: str
    scopes: list[str]
    tenant: str
    status: str = "active"  # active | rotated | revoked


@dataclass
class AccessToken:
    value: str
    account_id: str
    client_id: str
    scopes: list[str]
    expires: datetime
    revoked: bool = False


@dataclass
class Client:
    client_id: str
    client_secret: str | None = None  # None: a public client, which must not send a secret
    redirect_uris: list[str] = field(default_factory=list)


@dataclass
class Fault:
    """Answer the next ``count`` requests matching ``method`` + ``path`` (a glob) with ``status``."""

    id: str
    path: str
    method: str
    status: int
    count: int
    retry_after: int | None = None
    code: str | None = None
    message: str | None = None
    when: str = "before"  # before: the request does nothing; after: it runs, its answer is lost

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "method": self.method,
            "status": self.status,
            "count": self.count,
            "retry_after": self.retry_after,
            "code": self.code,
            "message": self.message,
            "when": self.when,
        }


class Store:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.calendars: dict[str, Calendar] = {}
        self.events: dict[str, Event] = {}
        self.auth_requests: dict[str, AuthRequest] = {}
        self.codes: dict[str, Code] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.clients: dict[str, Client] = {}
        self.faults: list[Fault] = []
        self.requests: list[dict[str, Any]] = []
        self.access_token_seconds = 3599
        # calendarView delta (see delta.py): states behind deltaLinks, rounds being paged.
        self.delta_states: dict[str, Any] = {}
        self.delta_rounds: dict[str, Any] = {}
        self.partial_delta_updates = False

    # accounts -------------------------------------------------------------------------------

    def add_account(
        self,
        user_principal_name: str,
        *,
        mail: str | None = None,
        display_name: str | None = None,
        kind: str = "personal",
        on_premises: bool = False,
        time_zone: str = "UTC",
        account_id: str | None = None,
    ) -> Account:
        if self.find_account(user_principal_name) is not None:
            raise ValueError(f"account {user_principal_name} exists")
        account = Account(
            id=account_id or (uuid.uuid4().hex[:16] if kind == "personal" else str(uuid.uuid4())),
            user_principal_name=user_principal_name,
            mail=mail,
            display_name=display_name or user_principal_name.split("@")[0].title(),
            kind=kind,
            on_premises=on_premises,
            time_zone=time_zone,
        )
        self.accounts[account.id] = account
        self.add_calendar(account, "Calendar", is_default=True)
        return account

    def find_account(self, key: str) -> Account | None:
        if key in self.accounts:
            return self.accounts[key]
        low = key.lower()
        for account in self.accounts.values():
            if low in (account.user_principal_name.lower(), (account.mail or "").lower()):
                return account
        return None

    def add_calendar(self, account: Account, name: str, *, is_default: bool = False) -> Calendar:
        calendar = Calendar(
            id=graph_id("AAMkAGI"), account_id=account.id, name=name, is_default=is_default
        )
        self.calendars[calendar.id] = calendar
        return calendar

    def calendars_of(self, account: Account) -> list[Calendar]:
        return [c for c in self.calendars.values() if c.account_id == account.id]

    def default_calendar(self, account: Account) -> Calendar:
        return next(c for c in self.calendars_of(account) if c.is_default)

    def live_events(self, account: Account, calendar: Calendar | None = None) -> list[Event]:
        return [
            e
            for e in self.events.values()
            if e.account_id == account.id
            and not e.deleted
            and (calendar is None or e.calendar_id == calendar.id)
        ]

    # tokens ---------------------------------------------------------------------------------

    def issue_refresh(self, account_id: str, client_id: str, scopes: list[str], tenant: str) -> str:
        value = "M.C5" + secrets.token_urlsafe(48)
        self.refresh_tokens[value] = RefreshToken(value, account_id, client_id, scopes, tenant)
        return value

    def revoke_account(self, account: Account, *, access_tokens: bool = False) -> int:
        revoked = 0
        for token in self.refresh_tokens.values():
            if token.account_id == account.id and token.status == "active":
                token.status = "revoked"
                revoked += 1
        if access_tokens:
            for access in self.access_tokens.values():
                if access.account_id == account.id:
                    access.revoked = True
        return revoked
