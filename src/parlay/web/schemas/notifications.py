"""Request bodies of notifications and notification preferences."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from parlay.web.schemas.common import Body

#: A notification id fits a BIGINT (a larger number is a 422, not a database error).
NotificationId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class MarkReadIn(Body):
    """``{ids}``, ``{room_id}`` (both: those ids in that room) or ``{all: true}``."""

    ids: Annotated[list[NotificationId], Field(min_length=1, max_length=500)] | None = None
    room_id: Annotated[str, Field(min_length=1, max_length=36)] | None = None
    all: Literal[True] | None = None

    @model_validator(mode="after")
    def _says_which(self) -> MarkReadIn:
        if self.ids is None and self.room_id is None and self.all is None:
            raise ValueError("name the notifications to mark: ids, room_id or all: true")
        if self.all and (self.ids is not None or self.room_id is not None):
            raise ValueError("all: true marks everything; send it without ids or room_id")
        return self


class PreferencesIn(Body):
    """A partial update: absent fields keep their value; null is refused."""

    email: bool | None = None
    reminders: bool | None = None
    reminder_minutes: Annotated[int, Field(ge=5, le=1440)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                if value is None:
                    raise ValueError(f"{key} must not be null")
        return data
