from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from parlay.web.schemas.common import Body

Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$"
    ),
]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
TimeZoneName = Annotated[str, Field(min_length=1, max_length=64)]


class SignupIn(Body):
    email: Email
    password: Annotated[str, Field(min_length=10, max_length=1024)]
    display_name: DisplayName
    time_zone: TimeZoneName = "UTC"


class LoginIn(Body):
    email: Annotated[str, Field(min_length=1, max_length=320)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class ProfileIn(Body):
    display_name: DisplayName | None = None
    time_zone: TimeZoneName | None = None
    #: How the UI writes times: "auto" (the browser's locale), "12h" or "24h".
    time_format: Literal["auto", "12h", "24h"] | None = None


class TokenIn(Body):
    name: DisplayName
