"""Video meetings: who may enter a meeting's call, the lobby, and the signaling rules.

- A room member enters by session from ``early_minutes`` before the start until the end plus
  ``grace_minutes``; a cancelled meeting cannot be entered (its link is dead).
- Anyone else with the link gets a guest pass (``video_passes``) for that meeting, knocks, and
  waits in the lobby until a member *in the call* admits or declines them; a declined guest
  cannot knock again for ``DECLINED_SECONDS``.
- Offers, answers, ICE candidates and mute state go only between peers in the same call, and a
  guest signals nothing before admission.

The transport (sockets, nodes) is ``parlay.realtime.signaling``; this module decides.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from parlay.db.models import RoomMember, User
from parlay.db.scheduling_models import Meeting
from parlay.domain.errors import DomainError, Forbidden, InvalidInput, MeetingCancelled, NotFound
from parlay.domain.errors import RateLimited as RateLimitedError
from parlay.realtime.signaling import Channel, PeerInfo, Relay, frame
from parlay.services.access import is_member
from parlay.services.context import Context
from parlay.services.ratelimits import Check, Rule
from parlay.services.video_backend import MeshBackend, VideoBackend
from parlay.services.video_frames import (
    Description,
    Ice,
    Join,
    State,
    Verdict,
    parse_frame,
)
from parlay.services.video_ice import IceConfig, compute_ice_servers
from parlay.services.video_janus import JanusBackend
from parlay.services.video_passes import GuestPass, GuestPasses
from parlay.video.janus import JanusClient

DECLINED_SECONDS = 60
#: A declined guest's mark in the shared limit store (Redis when configured): one per minute.
DECLINED = Rule("video-declined", window=DECLINED_SECONDS, limit=1)
MAX_NAME = 60


class MeetingNotOpen(DomainError):
    kind = "conflict"
    code = "meeting_not_open"
    default_message = "This meeting is not open yet."


class NotInCall(DomainError):
    kind = "forbidden"
    code = "not_in_call"
    default_message = "Join the call first."


@dataclass(frozen=True)
class CallPage:
    role: str  # "member" (joins by session) or "guest" (gives a name, knocks)
    is_open: bool
    over: bool
    opens_at: str  # UTC; the page shows it in the viewer's zone


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class VideoService:
    ctx: Context
    relay: Relay
    passes: GuestPasses
    early_minutes: int = 15
    grace_minutes: int = 30
    ice: IceConfig = field(default_factory=IceConfig)
    #: The Janus WebSocket API (``PARLAY_JANUS_URL``); None: the mesh backend.
    janus_url: str | None = None
    backend: VideoBackend = field(init=False)
    #: (meeting id, client address or guest id) -> monotonic time a knock is allowed again.
    _declined: dict[tuple[str, str], float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.relay.on_declined = self.note_declined
        self.relay.on_ended = self._ended_here
        self.relay.on_lost = self._peers_lost
        if self.janus_url:
            key = self.passes.derive(b"parlay janus room v1")
            self.backend = JanusBackend(self.relay, JanusClient(self.janus_url), key, self._lost)
        else:
            self.backend = MeshBackend(self.relay)
        self._tasks: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        await self.relay.close()
        await self.backend.close()

    # --- reading -------------------------------------------------------------------------------
    def window(self, meeting: Meeting) -> tuple[datetime, datetime]:
        return (
            meeting.start - timedelta(minutes=self.early_minutes),
            meeting.end + timedelta(minutes=self.grace_minutes),
        )

    def is_open(self, meeting: Meeting) -> bool:
        opens, closes = self.window(meeting)
        return opens <= self.ctx.now() <= closes

    async def _meeting_by_token(self, join_token: str) -> Meeting:
        if not join_token or len(join_token) > 64:
            raise NotFound("Unknown meeting link.")
        async with self.ctx.db.read() as session:
            meeting = await session.scalar(select(Meeting).where(Meeting.join_token == join_token))
        if meeting is None:
            raise NotFound("Unknown meeting link.")
        return meeting

    async def _meeting(self, meeting_id: str) -> Meeting:
        async with self.ctx.db.read() as session:
            meeting = await session.get(Meeting, meeting_id)
        if meeting is None:
            raise NotFound("Unknown meeting.")
        return meeting

    def _check_enterable(self, meeting: Meeting) -> None:
        if meeting.status == "cancelled":
            raise MeetingCancelled()
        if not self.is_open(meeting):
            opens, closes = self.window(meeting)
            word = "over" if self.ctx.now() > closes else "not open yet"
            raise MeetingNotOpen(f"This meeting is {word}; it opens at {opens.isoformat()}.")

    async def get_call_page(self, join_token: str, *, member: bool) -> CallPage:
        """What the meeting page needs to offer the call (the link is known to be valid)."""
        meeting = await self._meeting_by_token(join_token)
        opens, closes = self.window(meeting)
        now = self.ctx.now()
        return CallPage(
            role="member" if member else "guest",
            is_open=opens <= now <= closes,
            over=now > closes,
            opens_at=_utc(opens),
        )

    # --- guests ----------------------------------------------------------------------------------
    async def check_guest_pass(self, join_token: str, name: str) -> tuple[str, GuestPass]:
        """A pass for someone who holds the link and gave ``name`` (no account needed)."""
        name = " ".join(name.split())
        if not name or len(name) > MAX_NAME:
            raise InvalidInput(f"Give a name of 1 to {MAX_NAME} characters.", field="name")
        meeting = await self._meeting_by_token(join_token)
        if meeting.status == "cancelled":
            raise MeetingCancelled()
        _, closes = self.window(meeting)
        return self.passes.issue(meeting.id, name, max(closes, self.ctx.now() + timedelta(hours=1)))

    def guest_of(self, token: str) -> GuestPass | None:
        return self.passes.verify(token, self.ctx.now())

    async def attach_guest(self, guest: GuestPass, address: str) -> Channel:
        """A guest's socket: bound to its meeting from the start, waiting to knock."""
        meeting = await self._meeting(guest.meeting_id)
        channel = self.relay.attach(None, address)
        channel.meeting_id, channel.room_id = meeting.id, meeting.room_id
        channel.info = PeerInfo(channel.id, guest.name, "guest", None)
        channel.guest_id = guest.guest_id
        return channel

    # --- frames ----------------------------------------------------------------------------------
    async def handle(self, channel: Channel, type_: str, data: Any) -> None:
        """Apply one client frame; DomainError (sent back as an error frame) if refused."""
        parsed = parse_frame(type_, data)
        if isinstance(parsed, Join):
            await self._join(channel, parsed)
        elif type_ == "video.leave":
            await self._leave(channel)
        elif type_ == "video.knock":
            await self._knock(channel)
        elif isinstance(parsed, Verdict):
            await self._verdict(channel, parsed.peer_id, admit=type_ == "video.admit")
        elif isinstance(parsed, Description | Ice):
            self._require_call(channel)
            await self.backend.signal(channel, type_, parsed)
        elif isinstance(parsed, State):
            self._require_call(channel)
            assert channel.meeting_id is not None
            out = frame(type_, peer_id=channel.id, **parsed.model_dump())
            await self.relay.to_call(channel.meeting_id, out, skip=channel.id)

    async def disconnected(self, channel: Channel) -> None:
        was_in_call = channel.in_call
        await self.relay.leave(channel)
        self.relay.detach(channel)
        if was_in_call:
            await self._exit_media(channel, channel.meeting_id)
            await self._presence(channel.meeting_id, channel.room_id)

    async def _exit_media(self, channel: Channel, meeting_id: str | None) -> None:
        last = meeting_id is None or not self.relay.participants(meeting_id)
        await self.backend.exit(channel, last=last)

    def _require_call(self, channel: Channel) -> None:
        if not channel.in_call or channel.meeting_id is None:
            raise NotInCall()

    async def _join(self, channel: Channel, join: Join) -> None:
        if channel.in_call:
            raise InvalidInput("You are in the call already.", field="type")
        if channel.user_id is None:  # a guest: admitted first, into its own meeting only
            if not channel.admitted:
                raise NotInCall("Wait until a member admits you.")
            meeting = await self._meeting(channel.meeting_id or "")
        else:
            if join.join_token is None:
                raise InvalidInput("Name the meeting's join_token.", field="join_token")
            if channel.meeting_id is not None:
                raise InvalidInput("Leave the other call first.", field="join_token")
            meeting = await self._meeting_by_token(join.join_token)
            async with self.ctx.db.read() as session:
                if not await is_member(session, meeting.room_id, channel.user_id):
                    raise NotFound("Unknown meeting link.")
                user = await session.get(User, channel.user_id)
            assert user is not None
            channel.info = PeerInfo(channel.id, user.display_name, "member", user.id)
        self._check_enterable(meeting)
        channel.meeting_id, channel.room_id = meeting.id, meeting.room_id
        try:
            await self.backend.enter(channel, meeting, await self._room_size(meeting.room_id))
        except DomainError:
            if channel.user_id is not None:
                channel.meeting_id = channel.room_id = None
            raise
        peers = [p.public() for p in self.relay.participants(meeting.id)]
        await self.relay.join_call(channel)
        lobby = [g.public() for g in self.relay.waiting_guests(meeting.id)]
        who = channel.info.name if channel.info else "guest"
        channel.put(
            frame(
                "video.joined",
                peer_id=channel.id,
                meeting_id=meeting.id,
                name=who,
                peers=peers,
                lobby=lobby if channel.user_id is not None else [],
                media=self.backend.media,
                ice_servers=compute_ice_servers(self.ice, channel.id, int(time.time())),
            )
        )
        await self._presence(meeting.id, meeting.room_id)

    async def _leave(self, channel: Channel) -> None:
        was_in_call, where = channel.in_call, (channel.meeting_id, channel.room_id)
        await self.relay.leave(channel)
        if was_in_call:
            await self._exit_media(channel, where[0])
        if channel.user_id is not None:  # a member's socket may join another call later
            channel.meeting_id = channel.room_id = None
        if was_in_call:
            await self._presence(*where)
        channel.put(frame("video.left"))

    async def _knock(self, channel: Channel) -> None:
        if channel.user_id is not None or channel.meeting_id is None or channel.info is None:
            raise Forbidden("Members join; only guests knock.")
        if channel.waiting or channel.admitted or channel.in_call:
            raise InvalidInput("You have knocked already.", field="type")
        now = time.monotonic()
        keys = [(channel.meeting_id, channel.address), (channel.meeting_id, _guest_id(channel))]
        wait = max((self._declined.get(k, 0.0) - now for k in keys), default=0.0)
        if wait <= 0:  # declined on another node? (the store is shared through Redis)
            wait = await self.ctx.limiter.store.acquire(_declined_checks(channel), time.time(), [])
        if wait > 0:
            raise RateLimitedError(retry_after=int(wait) + 1, message="You were declined; wait.")
        self._check_enterable(await self._meeting(channel.meeting_id))
        await self.relay.knock(channel)
        channel.put(frame("video.waiting", peer_id=channel.id))

    def note_declined(self, channel: Channel) -> None:
        """A guest of this node was declined: neither its address nor its pass knocks again
        in that meeting for ``DECLINED_SECONDS``."""
        if channel.meeting_id is None:
            return
        until = time.monotonic() + DECLINED_SECONDS
        for key in (
            (channel.meeting_id, channel.address),
            (channel.meeting_id, _guest_id(channel)),
        ):
            self._declined[key] = until
        if len(self._declined) > 10_000:  # forget the oldest first
            now = time.monotonic()
            self._declined = {k: v for k, v in self._declined.items() if v > now}
        # For the other nodes (the guest may come back through any of them).
        mark = self.ctx.limiter.store.acquire(
            _declined_checks(channel), time.time(), [uuid.uuid4().hex]
        )
        self._spawn(mark)

    async def _verdict(self, channel: Channel, guest_id: str, *, admit: bool) -> None:
        self._require_call(channel)
        if channel.info is None or channel.info.role != "member":
            raise Forbidden("Only room members admit guests.")
        assert channel.meeting_id is not None
        if guest_id not in {g.id for g in self.relay.waiting_guests(channel.meeting_id)}:
            raise NotFound("Nobody by that id is waiting.", field="peer_id")
        verdict = "admitted" if admit else "declined"
        retry = None if admit else DECLINED_SECONDS
        await self.relay.verdict(channel.meeting_id, guest_id, verdict, retry)

    async def _room_size(self, room_id: str) -> int:
        async with self.ctx.db.read() as session:
            count = await session.scalar(
                select(func.count()).select_from(RoomMember).where(RoomMember.room_id == room_id)
            )
        return int(count or 0)

    # --- calls ending without a leave ------------------------------------------------------------
    def _lost(self, channel: Channel) -> None:
        """The media server dropped this participant: out of the call, then told so."""
        self._spawn(self._media_lost(channel))

    async def _media_lost(self, channel: Channel) -> None:
        where = (channel.meeting_id, channel.room_id)
        if channel.in_call:
            await self.relay.leave(channel)
            await self._exit_media(channel, where[0])
        if channel.user_id is not None:  # a member's socket may join again
            channel.meeting_id = channel.room_id = None
        channel.put(frame("video.ended", meeting_id=where[0], reason="media_lost"))
        await self._presence(*where)

    async def meeting_cancelled(self, meeting_id: str, room_id: str | None) -> None:
        """A meeting was cancelled (heard from the live events of any member's socket): its
        call and lobby end on every node, and every socket in them is told ``video.ended``."""
        if meeting_id not in self.relay.roster and meeting_id not in self.relay.lobby:
            return  # no call, or already ended
        await self.relay.end_call(meeting_id, "cancelled")
        await self._presence(meeting_id, room_id)

    def _ended_here(self, channel: Channel) -> None:
        """This node's share of an ended call: drop the media sessions of its sockets."""
        self._spawn(self.backend.exit(channel, last=True))

    def _peers_lost(self, meetings: set[str]) -> None:
        """Another node went silent and its peers left these calls: every node that noticed
        tells its own sockets the new presence (so nobody hears it twice)."""
        for meeting_id in meetings:
            self._spawn(self._presence_here(meeting_id))

    async def _presence_here(self, meeting_id: str) -> None:
        async with self.ctx.db.read() as session:
            meeting = await session.get(Meeting, meeting_id)
            if meeting is None:
                return
            members = list(
                (
                    await session.scalars(
                        select(RoomMember.user_id).where(RoomMember.room_id == meeting.room_id)
                    )
                ).all()
            )
        self.relay.deliver_users(members, self._presence_frame(meeting_id))

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def presence_snapshot(self, channel: Channel) -> None:
        """On a member's socket opening: who is in the calls of that member's rooms now."""
        calls = {m: peers for m, peers in self.relay.roster.items() if peers}
        if channel.user_id is None or not calls:
            return
        async with self.ctx.db.read() as session:
            mine = (
                await session.scalars(
                    select(Meeting.id)
                    .join(RoomMember, RoomMember.room_id == Meeting.room_id)
                    .where(Meeting.id.in_(list(calls)), RoomMember.user_id == channel.user_id)
                )
            ).all()
        for meeting_id in mine:
            people = [{"name": p.name, "role": p.role} for p in calls[meeting_id].values()]
            channel.put(frame("video.presence", meeting_id=meeting_id, participants=people))

    async def _presence(self, meeting_id: str | None, room_id: str | None) -> None:
        """Tell the meeting's room who is in its call (the meeting card shows them, live)."""
        if room_id is None or meeting_id is None:
            return
        async with self.ctx.db.read() as session:
            members = list(
                (
                    await session.scalars(
                        select(RoomMember.user_id).where(RoomMember.room_id == room_id)
                    )
                ).all()
            )
        await self.relay.to_users(members, self._presence_frame(meeting_id))

    def _presence_frame(self, meeting_id: str) -> dict[str, Any]:
        people = [{"name": p.name, "role": p.role} for p in self.relay.participants(meeting_id)]
        return frame("video.presence", meeting_id=meeting_id, participants=people)


def _guest_id(channel: Channel) -> str:
    return channel.guest_id or channel.id


def _declined_checks(channel: Channel) -> tuple[Check, ...]:
    """The store keys of a guest's address and pass in its meeting (digests: no addresses in
    Redis)."""
    keys = (channel.address, _guest_id(channel))
    return tuple(
        (DECLINED, hashlib.sha256(f"{channel.meeting_id}|{key}".encode()).hexdigest()[:32])
        for key in keys
    )
