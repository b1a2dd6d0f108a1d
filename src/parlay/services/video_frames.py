"""The signaling frames a client may send (``{"type": "video.*", "data": {...}}``), strictly
typed: an unknown field, a wrong type or an oversized SDP or candidate is refused with an
error frame before anything is relayed.  README "Video signaling" documents them."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError

from parlay.domain.errors import InvalidInput

MAX_SDP = 32 * 1024
PeerId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")]


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Join(_Frame):
    join_token: str | None = Field(default=None, min_length=1, max_length=64)


class Empty(_Frame):
    pass


class Verdict(_Frame):
    peer_id: PeerId


class Description(_Frame):
    to: PeerId
    sdp: str = Field(min_length=1, max_length=MAX_SDP)


class Candidate(_Frame):
    candidate: str = Field(max_length=1024)
    sdpMid: str | None = Field(default=None, max_length=64)  # noqa: N815 (the browser's name)
    sdpMLineIndex: StrictInt | None = Field(default=None, ge=0, le=64)  # noqa: N815
    usernameFragment: str | None = Field(default=None, max_length=256)  # noqa: N815


class Ice(_Frame):
    to: PeerId
    candidate: Candidate | None = None  # None: the end of candidates


class State(_Frame):
    audio: StrictBool
    video: StrictBool
    screen: StrictBool = False


SCHEMAS: dict[str, type[_Frame]] = {
    "video.join": Join,
    "video.leave": Empty,
    "video.knock": Empty,
    "video.admit": Verdict,
    "video.decline": Verdict,
    "video.offer": Description,
    "video.answer": Description,
    "video.ice": Ice,
    "video.state": State,
}


def is_video(type_: str) -> bool:
    return type_.startswith("video.")


def parse_frame(type_: str, data: Any) -> _Frame:
    """The typed frame, or InvalidInput naming the first bad field."""
    schema = SCHEMAS.get(type_)
    if schema is None:
        raise InvalidInput(f"Unknown frame type {type_!r}.", field="type")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInput("A frame's data must be an object.", field="data")
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or None
        raise InvalidInput(f"Frame {type_}: {first.get('msg', 'invalid')}.", field=where) from None
