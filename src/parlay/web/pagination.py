"""Opaque list cursors and the shared ``limit`` parameter."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import Query

from parlay.domain.errors import InvalidInput

Limit = Annotated[int, Query(ge=1, le=200)]
CursorParam = Annotated[str | None, Query(max_length=500)]


def encode_cursor(value: Any) -> str | None:
    if value is None:
        return None
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, shape: type) -> Any:
    if cursor is None:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError as exc:
        raise InvalidInput("The cursor is not valid.", field="cursor") from exc
    if shape is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if (
        shape is tuple
        and isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], int)
        and isinstance(value[1], str)
    ):
        return (value[0], value[1])
    raise InvalidInput("The cursor is not valid.", field="cursor")
