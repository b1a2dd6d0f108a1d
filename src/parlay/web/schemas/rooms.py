from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from parlay.web.schemas.accounts import Email
from parlay.web.schemas.common import Body


class RoomIn(Body):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    member_emails: Annotated[list[Email], Field(max_length=100)] = []


class MemberIn(Body):
    email: Email


class MessageIn(Body):
    body: Annotated[str, Field(min_length=1, max_length=10_000)]

    @field_validator("body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the message is empty")
        return value
