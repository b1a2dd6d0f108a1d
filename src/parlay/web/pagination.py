"""Opaque list cursors and the shared ``limit`` parameter."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import Query

from parlay.domain.errors import InvalidInput

Limit = Annotated[int, Query(ge=1, le=200)]
CursorParam = Annotated[str | None, Query(max_length=500)]
_INT64 = range(-(2**63), 2**63)


def encode_cursor(value: Any) -> str | None:
    if value is None:
        return None
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _fits(value: Any, kind: type) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool) and value in _INT64
    return isinstance(value, kind)


def decode_cursor(cursor: str | None, *shape: type) -> Any:
    """The value inside ``cursor``: one item of type ``shape[0]``, or a tuple of ``shape``."""
    if cursor is None:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError as exc:
        raise InvalidInput("The cursor is not valid.", field="cursor") from exc
    if len(shape) == 1 and _fits(value, shape[0]):
        return value
    if (
        len(shape) > 1
        and isinstance(value, list)
        and len(value) == len(shape)
        and all(_fits(v, t) for v, t in zip(value, shape, strict=True))
    ):
        return tuple(value)
    raise InvalidInput("The cursor is not valid.", field="cursor")
