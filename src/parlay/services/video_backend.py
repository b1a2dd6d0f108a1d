"""The ``VideoBackend`` seam: where a call's media goes once the rules in
``parlay.services.video`` have let a peer in.

- ``mesh`` (default): browsers connect to each other; offers, answers and ICE candidates are
  relayed peer to peer (``video.offer {to: <peer>}`` reaches that peer).
- ``janus`` (``PARLAY_JANUS_URL``): ``parlay.services.video_janus``; every browser publishes
  once to the meeting's Janus VideoRoom and subscribes to the others, with Parlay relaying
  SDP/ICE to Janus server-side.

Both speak the same frames to the browser; ``video.joined`` says which (``media``).
"""

from __future__ import annotations

from typing import Any, Protocol

from parlay.db.scheduling_models import Meeting
from parlay.domain.errors import NotFound
from parlay.realtime.signaling import Channel, Relay
from parlay.services.video_frames import Candidate, Description, Ice


class VideoBackend(Protocol):
    media: str

    async def enter(self, channel: Channel, meeting: Meeting, room_size: int) -> None:
        """Prepare ``channel``'s media before it is announced in the call (may raise
        DomainError, e.g. the media server is unreachable)."""

    async def signal(self, channel: Channel, type_: str, parsed: Description | Ice) -> None:
        """An offer, answer or ICE candidate from a peer in the call."""

    async def exit(self, channel: Channel, *, last: bool) -> None:
        """``channel`` left its call (``last``: nobody is in it on any node any more)."""

    async def close(self) -> None: ...


class MeshBackend:
    """Browser to browser: the frame goes to the peer it names, in the same call."""

    media = "mesh"

    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    async def enter(self, channel: Channel, meeting: Meeting, room_size: int) -> None:
        return None

    async def signal(self, channel: Channel, type_: str, parsed: Description | Ice) -> None:
        assert channel.meeting_id is not None and channel.info is not None
        roster = {p.id for p in self.relay.participants(channel.meeting_id)}
        if parsed.to not in roster or parsed.to == channel.id:
            raise NotFound("No such peer in this call.", field="to")
        body: dict[str, Any] = {"peer_id": channel.id, "name": channel.info.name}
        if isinstance(parsed, Description):
            body["sdp"] = parsed.sdp
        else:
            body["candidate"] = candidate_dict(parsed.candidate)
        await self.relay.to_peer(channel.meeting_id, parsed.to, {"type": type_, "data": body})

    async def exit(self, channel: Channel, *, last: bool) -> None:
        return None

    async def close(self) -> None:
        return None


def candidate_dict(candidate: Candidate | None) -> dict[str, Any] | None:
    return None if candidate is None else candidate.model_dump(exclude_none=True)
