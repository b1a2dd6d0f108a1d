"""Request and response bodies of ``/api/v1/calendars`` (API.md "Calendars")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator

from parlay.services.calendars import CalendarChange, ConnectionView
from parlay.web.schemas.common import Body


class CaldavIn(Body):
    url: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    username: Annotated[str, StringConstraints(min_length=1, max_length=320)]
    password: Annotated[str, Field(min_length=1, max_length=1000, repr=False)]

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.lower().startswith(("http://", "https://")):
            raise ValueError("the address must start with http:// or https://")
        return value


class CalendarChangeIn(Body):
    external_id: Annotated[str, Field(min_length=1, max_length=1000)]
    check_conflicts: bool | None = None
    write_events: bool | None = None

    def change(self) -> CalendarChange:
        return CalendarChange(self.external_id, self.check_conflicts, self.write_events)


class ConnectionPatch(Body):
    calendars: Annotated[list[CalendarChangeIn], Field(max_length=200)]


class CalendarRead(BaseModel):
    external_id: str
    name: str
    primary: bool
    check_conflicts: bool
    write_events: bool


class ConnectionRead(BaseModel):
    id: str
    provider: Literal["google", "microsoft", "caldav"]
    account_email: str
    status: Literal["active", "needs_reauth", "error"]
    status_detail: str | None = None
    connected_at: datetime
    last_synced_at: datetime | None
    calendars: list[CalendarRead]

    @classmethod
    def of(cls, view: ConnectionView) -> ConnectionRead:
        return cls.model_validate(view, from_attributes=True)


class ConnectionList(BaseModel):
    calendars: list[ConnectionRead]
    next_cursor: str | None


PROVIDER_NAMES = {"google": "Google Calendar", "microsoft": "Microsoft Outlook", "caldav": "CalDAV"}


class ProviderRead(BaseModel):
    key: Literal["google", "microsoft", "caldav"]
    name: str
    #: oauth: the browser goes to the provider to consent; password: URL, user and password.
    kind: Literal["oauth", "password"]

    @classmethod
    def of(cls, key: str) -> ProviderRead:
        kind: Literal["oauth", "password"] = "password" if key == "caldav" else "oauth"
        return cls.model_validate({"key": key, "name": PROVIDER_NAMES[key], "kind": kind})


class ProviderList(BaseModel):
    providers: list[ProviderRead]


class ConnectIn(Body):
    #: A path on this site to come back to after consenting (default ``/``).
    return_to: Annotated[str, StringConstraints(max_length=1000)] | None = None


class AuthorizeOut(BaseModel):
    authorize_url: str
