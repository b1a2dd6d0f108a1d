"""The ``janus`` video backend: each participant publishes once to the meeting's Janus
VideoRoom and subscribes to everyone else's feed, and Parlay relays the SDP and ICE.

Per participant (socket in a call) this node holds one Janus session with a *publisher* handle
joined to the room and one *subscriber* handle per other participant's feed.  The browser
sees only peer ids: ``video.offer {to: <its own id>}`` publishes (Janus's answer comes back as
``video.answer`` from its own id); Janus's offer for someone's feed arrives as ``video.offer``
from that peer's id and is answered with ``video.answer {to: <peer>}``; ``video.ice`` names the
same ids.  Session, handle and room ids and the room's secret never leave the server.

The room is created on first entry with ``publishers`` sized for the room's members plus a
few guests, a secret derived from the server's secret key (every node derives the same, so
any node can destroy it), and ``is_private`` (Janus does not list it).  The last one out
destroys it.  A feed's Janus id is derived from the peer id, and its ``display`` is the peer
id, so any node knows whose feed an event is about without asking the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from parlay.db.scheduling_models import Meeting
from parlay.domain.errors import DomainError, NotFound
from parlay.realtime.signaling import Channel, Relay, frame
from parlay.services.video_backend import candidate_dict
from parlay.services.video_frames import Description, Ice
from parlay.video.janus import JanusClient, JanusError, JanusUnavailable

log = logging.getLogger(__name__)

GUEST_SEATS = 8  # publishers beyond the room's members
MAX_PUBLISHERS = 100
ROOM_EXISTS, NO_SUCH_ROOM = 427, 426


class VideoUnavailable(DomainError):
    kind = "unavailable"
    code = "video_unavailable"
    default_message = "The call can't start: the media server is not reachable. Try again soon."


@dataclass
class _Participant:
    channel: Channel
    meeting_id: str
    session: int
    room: int
    publisher: int = 0
    #: peer id -> subscriber handle for that peer's feed
    subscribers: dict[str, int] = field(default_factory=dict)
    feeds: dict[int, str] = field(default_factory=dict)  # Janus feed id -> peer id
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


def feed_of(peer_id: str) -> int:
    return int(peer_id[:12], 16) + 1


class JanusBackend:
    media = "janus"

    def __init__(
        self,
        relay: Relay,
        client: JanusClient,
        room_key: bytes,
        on_lost: Callable[[Channel], None] | None = None,
    ) -> None:
        self.relay = relay
        self.client = client
        self._key = room_key
        self._in: dict[str, _Participant] = {}
        #: Told when Janus drops a participant's session (the call ends for them).
        self.on_lost = on_lost

    def room_of(self, meeting_id: str) -> tuple[int, str]:
        return self.room_of_key(self._key, meeting_id)

    @staticmethod
    def room_of_key(key: bytes, meeting_id: str) -> tuple[int, str]:
        """The meeting's Janus room id and secret (the same on every node)."""
        mac = hmac.new(key, f"room:{meeting_id}".encode(), hashlib.sha256).digest()
        return int.from_bytes(mac[:6], "big") + 1, mac[6:22].hex()

    # --- entering and leaving ------------------------------------------------------------------
    async def enter(self, channel: Channel, meeting: Meeting, room_size: int) -> None:
        room, secret = self.room_of(meeting.id)
        try:
            session = await self.client.create_session(lambda: self._lost(channel))
            part = _Participant(channel, meeting.id, session, room)
            self._in[channel.id] = part
            part.publisher = await self.client.attach(session, lambda m: self._heard(part, m))
            publishers = min(MAX_PUBLISHERS, room_size + GUEST_SEATS)
            create = {"request": "create", "room": room, "secret": secret, "is_private": True}
            try:
                await self.client.message(
                    session, part.publisher, {**create, "publishers": publishers}
                )
            except JanusError as exc:
                if exc.code != ROOM_EXISTS:
                    raise
            join = {
                "request": "join",
                "ptype": "publisher",
                "room": room,
                "id": feed_of(channel.id),
                "display": channel.id,
            }
            joined, _ = await self.client.message(session, part.publisher, join, wants_event=True)
        except (JanusUnavailable, JanusError) as exc:
            log.warning("janus: cannot enter meeting %s: %s", meeting.id, exc)
            await self._forget(channel)
            raise VideoUnavailable() from exc
        self._subscribe_all(part, joined.get("publishers", []))

    async def exit(self, channel: Channel, *, last: bool) -> None:
        part = self._in.get(channel.id)
        if part is None:
            return
        if last:
            room, secret = self.room_of(part.meeting_id)
            with contextlib.suppress(JanusError, JanusUnavailable):
                destroy = {"request": "destroy", "room": room, "secret": secret}
                await self.client.message(part.session, part.publisher, destroy)
        await self._forget(channel)

    async def _forget(self, channel: Channel) -> None:
        part = self._in.pop(channel.id, None)
        if part is None:
            return
        for task in part.tasks:
            task.cancel()
        await self.client.destroy_session(part.session)

    def _lost(self, channel: Channel) -> None:
        if self._in.pop(channel.id, None) is not None and self.on_lost is not None:
            self.on_lost(channel)

    async def close(self) -> None:
        for channel_id in list(self._in):
            await self._forget(self._in[channel_id].channel)
        await self.client.close()

    # --- the browser's SDP and ICE -------------------------------------------------------------
    async def signal(self, channel: Channel, type_: str, parsed: Description | Ice) -> None:
        part = self._in.get(channel.id)
        if part is None:
            raise NotFound("No media session for this call.", field="to")
        handle = part.publisher if parsed.to == channel.id else part.subscribers.get(parsed.to)
        if handle is None:
            raise NotFound("No such peer in this call.", field="to")
        try:
            if isinstance(parsed, Ice):
                candidate = candidate_dict(parsed.candidate) or {"completed": True}
                await self.client.trickle(part.session, handle, candidate)
            elif type_ == "video.offer" and handle == part.publisher:
                body = {"request": "configure", "audio": True, "video": True}
                jsep = {"type": "offer", "sdp": parsed.sdp}
                _, answer = await self.client.message(
                    part.session, handle, body, jsep, wants_event=True
                )
                if answer is None:
                    raise JanusError(0, "no answer to the offer")
                channel.put(_sdp("video.answer", channel, answer["sdp"]))
            elif type_ == "video.answer" and handle != part.publisher:
                jsep = {"type": "answer", "sdp": parsed.sdp}
                await self.client.message(
                    part.session, handle, {"request": "start"}, jsep, wants_event=True
                )
            else:
                raise NotFound("Offer to yourself, answer the others.", field="to")
        except JanusError as exc:
            raise DomainError(f"The media server refused this: {exc.reason}", field="sdp") from exc
        except JanusUnavailable as exc:
            raise VideoUnavailable() from exc

    # --- Janus's side ----------------------------------------------------------------------------
    def _heard(self, part: _Participant, message: dict[str, Any]) -> None:
        """An event on a participant's publisher handle: feeds came or went."""
        data = message.get("plugindata", {}).get("data", {})
        if not isinstance(data, dict):
            return
        self._subscribe_all(part, data.get("publishers", []))
        for key in ("unpublished", "leaving"):
            gone = data.get(key)
            if isinstance(gone, int) and gone in part.feeds:
                self._spawn(part, self._unsubscribe(part, part.feeds.pop(gone)))

    def _subscribe_all(self, part: _Participant, publishers: Any) -> None:
        for publisher in publishers if isinstance(publishers, list) else []:
            peer_id = str(publisher.get("display", ""))
            if peer_id and peer_id != part.channel.id and peer_id not in part.subscribers:
                part.subscribers[peer_id] = 0  # reserved while the handle is made
                part.feeds[int(publisher["id"])] = peer_id
                self._spawn(part, self._subscribe(part, peer_id, int(publisher["id"])))

    def _spawn(self, part: _Participant, work: Any) -> None:
        task = asyncio.create_task(work)
        part.tasks.add(task)
        task.add_done_callback(part.tasks.discard)

    async def _subscribe(self, part: _Participant, peer_id: str, feed: int) -> None:
        try:
            handle = await self.client.attach(part.session, lambda m: None)
            part.subscribers[peer_id] = handle
            body = {
                "request": "join",
                "ptype": "subscriber",
                "room": part.room,
                "streams": [{"feed": feed}],
            }
            _, offer = await self.client.message(part.session, handle, body, wants_event=True)
        except (JanusError, JanusUnavailable) as exc:
            log.warning("janus: cannot subscribe to a feed: %s", exc)
            part.subscribers.pop(peer_id, None)
            return
        if offer is not None:
            part.channel.put(_sdp("video.offer", self._named(part, peer_id), offer["sdp"]))

    async def _unsubscribe(self, part: _Participant, peer_id: str) -> None:
        handle = part.subscribers.pop(peer_id, 0)
        if handle:
            await self.client.detach(part.session, handle)

    def _named(self, part: _Participant, peer_id: str) -> tuple[str, str]:
        for peer in self.relay.participants(part.meeting_id):
            if peer.id == peer_id:
                return peer.id, peer.name
        return peer_id, "Guest"


def _sdp(type_: str, who: Channel | tuple[str, str], sdp: str) -> dict[str, Any]:
    if isinstance(who, Channel):
        peer_id, name = who.id, who.info.name if who.info else ""
    else:
        peer_id, name = who
    return frame(type_, peer_id=peer_id, name=name, sdp=sdp)
