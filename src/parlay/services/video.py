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

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from parlay.db.models import RoomMember, User
from parlay.db.scheduling_models import Meeting
from parlay.domain.errors import DomainError, Forbidden, InvalidInput, MeetingCancelled, NotFound
from parlay.domain.errors import RateLimited as RateLimitedError
from parlay.realtime.signaling import Channel, PeerInfo, Relay, frame
from parlay.services.access import is_member
from parlay.services.context import Context
from parlay.services.video_frames import (
    Candidate,
    Description,
    Ice,
    Join,
    State,
    Verdict,
    parse_frame,
)
from parlay.services.video_ice import IceConfig, compute_ice_servers
from parlay.services.video_passes import GuestPass, GuestPasses

DECLINED_SECONDS = 60
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
    #: (meeting id, client address or guest id) -> monotonic time a knock is allowed again.
    _declined: dict[tuple[str, str], float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.relay.on_declined = self.note_declined

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
            await self._relay_to_peer(channel, type_, parsed)
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
            await self._presence(channel.meeting_id, channel.room_id)

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
                ice_servers=compute_ice_servers(self.ice, channel.id, int(time.time())),
            )
        )
        await self._presence(meeting.id, meeting.room_id)

    async def _leave(self, channel: Channel) -> None:
        was_in_call, where = channel.in_call, (channel.meeting_id, channel.room_id)
        await self.relay.leave(channel)
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

    async def _relay_to_peer(self, channel: Channel, type_: str, parsed: Description | Ice) -> None:
        self._require_call(channel)
        assert channel.meeting_id is not None and channel.info is not None
        roster = {p.id for p in self.relay.participants(channel.meeting_id)}
        if parsed.to not in roster or parsed.to == channel.id:
            raise NotFound("No such peer in this call.", field="to")
        body: dict[str, Any] = {"peer_id": channel.id, "name": channel.info.name}
        if isinstance(parsed, Description):
            body["sdp"] = parsed.sdp
        else:
            body["candidate"] = _candidate(parsed.candidate)
        await self.relay.to_peer(channel.meeting_id, parsed.to, {"type": type_, "data": body})

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
        people = [{"name": p.name, "role": p.role} for p in self.relay.participants(meeting_id)]
        out = frame("video.presence", meeting_id=meeting_id, participants=people)
        await self.relay.to_users(members, out)


def _guest_id(channel: Channel) -> str:
    return channel.guest_id or channel.id


def _candidate(candidate: Candidate | None) -> dict[str, Any] | None:
    return None if candidate is None else candidate.model_dump(exclude_none=True)
