"""The video signaling relay of one app node: who is in which call or lobby, and delivery of
ephemeral frames between them, across nodes through the broker's signal channel.

Nothing here is stored: a call is the set of sockets in it.  Every change travels as an
*envelope* (JSON, naming the node it came from and the meeting it belongs to).  The sending
node delivers its own share at once and publishes the envelope; every other node delivers to
its own sockets.  Each node also mirrors, from the envelopes, who is in each call and who waits
in each lobby (``roster``, ``lobby``), so rules can be checked where a frame arrives.

Nodes can die without a word, so each node with live peers announces them every
``heartbeat_seconds`` (a *beat*: its whole share of every call and lobby).  A node gone silent
(``parlay.realtime.node_liveness``) has its peers leave every roster here, this node's sockets
are told ``video.peer_left`` / ``video.lobby_closed``, and ``on_lost`` names the
meetings whose presence changed.  A beat is also the truth about its sender's share, so a node
that starts fresh (it says ``hello``; the others beat back at once) rebuilds its mirror from them.

A receiving node delivers a peer-addressed frame only to a socket of that very meeting that is
in the call (or, for lobby verdicts, waiting in its lobby): a peer cannot reach another
meeting's peers, and a guest hears nothing before admission.  The rules about *who* may join,
knock and admit live in ``parlay.services.video``; this module only moves frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from parlay.realtime.broker import Broker
from parlay.realtime.lean_queue import LeanQueue
from parlay.realtime.node_liveness import DEFAULT_HEARTBEAT_SECONDS, NodeLiveness

log = logging.getLogger(__name__)

Role = Literal["member", "guest"]
#: Frames a socket may have waiting before it is considered dead and closed.
MAX_QUEUED = 1000


@dataclass(frozen=True, slots=True)
class PeerInfo:
    """A participant as every node knows it (in a call, or waiting in a lobby)."""

    id: str
    name: str
    role: Role
    user_id: str | None = None

    def public(self) -> dict[str, Any]:
        return {"peer_id": self.id, "name": self.name, "role": self.role}


class Channel:
    """One socket's ephemeral side: a queue of frames to send, and its place in a meeting."""

    def __init__(self, user_id: str | None, address: str = "") -> None:
        self.user_id = user_id
        self.address = address
        self.id = uuid.uuid4().hex
        self.meeting_id: str | None = None
        self.room_id: str | None = None
        self.info: PeerInfo | None = None
        self.guest_id: str | None = None  # a guest's pass id (it outlives this socket)
        self.in_call = False
        self.waiting = False  # a guest who knocked and has no verdict yet
        self.admitted = False  # a guest a member let in
        self.overflowed = False
        self.closed = False
        self._queue: LeanQueue[dict[str, Any] | None] = LeanQueue()  # one per socket: lean

    def put(self, frame: dict[str, Any]) -> None:
        if self.closed or self.overflowed:
            return
        if self._queue.qsize() >= MAX_QUEUED:
            self.overflowed = True
            self._queue.put_nowait(None)
            return
        self._queue.put_nowait(frame)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._queue.put_nowait(None)

    async def next(self) -> dict[str, Any] | None:
        """The next frame to send, or None once the channel is closed (or overflowed)."""
        frame = await self._queue.get()
        return None if self.closed or self.overflowed else frame

    def pending(self) -> bool:
        """Whether ``next`` has something to return at once."""
        return not self._queue.empty()

    def on_queued(self, hook: Callable[[], None] | None) -> None:
        """Call ``hook`` when a frame is queued and no ``next`` is waiting for it."""
        self._queue.on_put = hook


def frame(type_: str, **data: Any) -> dict[str, Any]:
    return {"type": type_, "data": data}


@dataclass
class Relay:
    broker: Broker
    node: str = field(default_factory=lambda: uuid.uuid4().hex)
    _channels: dict[str, Channel] = field(default_factory=dict)
    _by_user: dict[str, set[Channel]] = field(default_factory=lambda: defaultdict(set))
    #: meeting id -> peer id -> who, for every node's calls (mirrored from envelopes).
    roster: dict[str, dict[str, PeerInfo]] = field(default_factory=lambda: defaultdict(dict))
    #: meeting id -> guest peer id -> who, for every node's lobbies.
    lobby: dict[str, dict[str, PeerInfo]] = field(default_factory=lambda: defaultdict(dict))
    #: Told when a guest of this node is declined (the services rate-limit knocking again).
    on_declined: Callable[[Channel], None] | None = None
    #: Told for each socket of this node in a call that ended (a cancelled meeting).
    on_ended: Callable[[Channel], None] | None = None
    #: Told the meetings whose roster lost the peers of a node gone silent.
    on_lost: Callable[[set[str]], None] | None = None
    heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS
    #: peer id -> the node it is on (for every peer in ``roster`` and ``lobby``).
    _origin: dict[str, str] = field(default_factory=dict)
    _seq: int = 0
    _ticker: asyncio.Task[None] | None = None
    _replies: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.broker.on_signal(self._heard)
        self._nodes = NodeLiveness(self.heartbeat_seconds)

    def _start_ticking(self) -> None:
        """The beat starts with the first socket (a running loop is needed for it)."""
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None

    async def _tick(self) -> None:
        await self._quietly({"k": "hello"})
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            await self.beat()
            self.sweep()

    async def _quietly(self, envelope: dict[str, Any]) -> None:
        try:
            await self.publish(envelope)
        except Exception:  # the next beat tries again; the loop must not die
            log.warning("video heartbeat publish failed", exc_info=True)

    async def beat(self) -> None:
        """Announce this node's share of every call and lobby (nothing when it has none)."""
        call: dict[str, list[dict[str, Any]]] = defaultdict(list)
        lobby: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for channel in self._channels.values():
            if channel.meeting_id is None or channel.info is None:
                continue
            if channel.in_call:
                call[channel.meeting_id].append(_info_dict(channel.info))
            elif channel.waiting:
                lobby[channel.meeting_id].append(_info_dict(channel.info))
        if call or lobby:
            await self._quietly({"k": "beat", "call": call, "lobby": lobby})

    def sweep(self) -> None:
        """Drop the peers of every node gone silent."""
        for node in self._nodes.gone():
            self._drop_peers_of(node, set())

    # --- sockets -----------------------------------------------------------------------------
    def attach(self, user_id: str | None, address: str = "") -> Channel:
        channel = Channel(user_id, address)
        self._channels[channel.id] = channel
        self._start_ticking()
        if user_id is not None:
            self._by_user[user_id].add(channel)
        return channel

    def detach(self, channel: Channel) -> None:
        channel.close()
        self._channels.pop(channel.id, None)
        if channel.user_id is not None:
            users = self._by_user.get(channel.user_id)
            if users is not None:
                users.discard(channel)
                if not users:
                    del self._by_user[channel.user_id]

    # --- what nodes tell each other -----------------------------------------------------------
    async def publish(self, envelope: dict[str, Any]) -> None:
        """Apply ``envelope`` here at once, then tell the other nodes."""
        self._seq += 1
        envelope = {**envelope, "n": self.node, "s": self._seq}
        self._apply(envelope)
        await self.broker.signal(json.dumps(envelope, separators=(",", ":")))

    def _heard(self, data: str) -> None:
        try:
            envelope = json.loads(data)
        except ValueError:
            return
        if not isinstance(envelope, dict) or envelope.get("n") == self.node:
            return  # our own, already applied
        try:
            fresh = self._nodes.heard(
                str(envelope["n"]), int(envelope.get("s", 0)), beat=envelope["k"] == "beat"
            )
            if fresh:
                self._apply(envelope)
        except (KeyError, TypeError, ValueError):
            log.warning("dropped a malformed signal envelope")

    def _apply(self, env: dict[str, Any]) -> None:
        kind, meeting = env["k"], env.get("m", "")
        if kind == "joined":
            info = PeerInfo(**env["peer"])
            self.roster[meeting][info.id] = info
            self._origin[info.id] = env["n"]
            self._to_call(meeting, frame("video.peer_joined", **info.public()), skip=info.id)
        elif kind == "left":
            peer_id = env["peer_id"]
            self.roster[meeting].pop(peer_id, None)
            self._origin.pop(peer_id, None)
            self._prune(meeting)
            self._to_call(meeting, frame("video.peer_left", peer_id=peer_id))
        elif kind == "knock":
            info = PeerInfo(**env["peer"])
            self.lobby[meeting][info.id] = info
            self._origin[info.id] = env["n"]
            self._to_call(meeting, frame("video.knock", **info.public()), members_only=True)
        elif kind == "lobby_left":  # admitted, declined or gone
            guest_id = env["peer_id"]
            if self.lobby[meeting].pop(guest_id, None) is not None:
                self._origin.pop(guest_id, None)
            self._prune(meeting)
            self._to_verdict(meeting, guest_id, env.get("verdict"), env.get("retry_after"))
            closed = frame("video.lobby_closed", peer_id=guest_id, verdict=env.get("verdict"))
            self._to_call(meeting, closed, members_only=True)
        elif kind == "ended":
            self._end_here(meeting, str(env.get("reason", "ended")))
        elif kind == "peer":
            target = self._channels.get(env["to"])
            if target is not None and target.in_call and target.meeting_id == meeting:
                target.put(env["frame"])
        elif kind == "call":
            self._to_call(meeting, env["frame"], skip=env.get("skip"))
        elif kind == "users":
            self.deliver_users(env["users"], env["frame"])
        elif kind == "beat" and env["n"] != self.node:
            self._rebuild(str(env["n"]), env["call"], env["lobby"])
        elif kind == "hello" and env["n"] != self.node:  # a fresh node: tell it our share
            task = asyncio.get_running_loop().create_task(self.beat())
            self._replies.add(task)
            task.add_done_callback(self._replies.discard)

    def _rebuild(
        self,
        node: str,
        call: dict[str, list[dict[str, Any]]],
        lobby: dict[str, list[dict[str, Any]]],
    ) -> None:
        """A beat is ``node``'s whole share: peers we missed join our mirror quietly (only a
        fresh node lacks them, and it has nobody in those calls to tell); peers it no longer
        lists are gone, and told so."""
        listed: set[str] = set()
        for index, share in ((self.roster, call), (self.lobby, lobby)):
            for meeting, peers in share.items():
                for peer in peers:
                    info = PeerInfo(**peer)
                    listed.add(info.id)
                    if info.id not in index[meeting]:
                        index[meeting][info.id] = info
                        self._origin[info.id] = node
        self._drop_peers_of(node, listed)

    def _drop_peers_of(self, node: str, keep: set[str]) -> None:
        lost: set[str] = set()
        for meeting, peers in list(self.roster.items()):
            for peer_id in [p for p in peers if self._origin.get(p) == node and p not in keep]:
                del peers[peer_id]
                self._origin.pop(peer_id, None)
                self._to_call(meeting, frame("video.peer_left", peer_id=peer_id))
                lost.add(meeting)
        for meeting, guests in list(self.lobby.items()):
            for guest_id in [g for g in guests if self._origin.get(g) == node and g not in keep]:
                del guests[guest_id]
                self._origin.pop(guest_id, None)
                closed = frame("video.lobby_closed", peer_id=guest_id, verdict=None)
                self._to_call(meeting, closed, members_only=True)
        for meeting in list(self.roster) + list(self.lobby):
            self._prune(meeting)
        if lost and self.on_lost is not None:
            self.on_lost(lost)

    def deliver_users(self, user_ids: list[str], out: dict[str, Any]) -> None:
        """To this node's sockets of these users (no other node is told)."""
        for user_id in user_ids:
            for channel in self._by_user.get(user_id, ()):
                channel.put(out)

    def _end_here(self, meeting: str, reason: str) -> None:
        """The call and lobby of ``meeting`` are over: this node's sockets in them are out
        (a member's socket may join another call later) and told ``video.ended``."""
        for index in (self.roster, self.lobby):
            for peer_id in index.pop(meeting, {}):
                self._origin.pop(peer_id, None)
        for channel in self._local(meeting):
            was_in_call = channel.in_call
            if not (was_in_call or channel.waiting or channel.admitted):
                continue
            channel.in_call = channel.waiting = channel.admitted = False
            channel.put(frame("video.ended", meeting_id=meeting, reason=reason))
            if was_in_call and self.on_ended is not None:
                self.on_ended(channel)  # before the socket forgets its meeting
            if channel.user_id is not None:
                channel.meeting_id = channel.room_id = None

    def _prune(self, meeting: str) -> None:
        for index in (self.roster, self.lobby):
            if meeting in index and not index[meeting]:
                del index[meeting]

    def _local(self, meeting: str) -> list[Channel]:
        return [c for c in self._channels.values() if c.meeting_id == meeting]

    def _to_call(
        self,
        meeting: str,
        out: dict[str, Any],
        *,
        skip: str | None = None,
        members_only: bool = False,
    ) -> None:
        for channel in self._local(meeting):
            if not channel.in_call or channel.id == skip:
                continue
            if members_only and (channel.info is None or channel.info.role != "member"):
                continue
            channel.put(out)

    def _to_verdict(
        self, meeting: str, guest_id: str, verdict: str | None, retry_after: int | None
    ) -> None:
        guest = self._channels.get(guest_id)
        if guest is None or guest.meeting_id != meeting or not guest.waiting:
            return
        guest.waiting = False
        if verdict == "admitted":
            guest.admitted = True
            guest.put(frame("video.admitted"))
        elif verdict == "declined":
            if self.on_declined is not None:
                self.on_declined(guest)
            guest.put(frame("video.declined", retry_after=retry_after))

    # --- what the services ask for ---------------------------------------------------------
    def waiting_guests(self, meeting: str) -> list[PeerInfo]:
        return list(self.lobby.get(meeting, {}).values())

    def participants(self, meeting: str) -> list[PeerInfo]:
        return list(self.roster.get(meeting, {}).values())

    def channel(self, channel_id: str) -> Channel | None:
        return self._channels.get(channel_id)

    async def join_call(self, channel: Channel) -> None:
        assert channel.info is not None and channel.meeting_id is not None
        channel.in_call = True
        info = channel.info
        await self.publish({"k": "joined", "m": channel.meeting_id, "peer": _info_dict(info)})

    async def leave(self, channel: Channel) -> None:
        """Out of the call or the lobby (a leave frame, a closed socket)."""
        meeting = channel.meeting_id
        if meeting is None:
            return
        if channel.in_call:
            channel.in_call = False
            await self.publish({"k": "left", "m": meeting, "peer_id": channel.id})
        if channel.waiting:
            channel.waiting = False
            await self.publish({"k": "lobby_left", "m": meeting, "peer_id": channel.id})

    async def knock(self, channel: Channel) -> None:
        assert channel.info is not None and channel.meeting_id is not None
        channel.waiting = True
        await self.publish(
            {"k": "knock", "m": channel.meeting_id, "peer": _info_dict(channel.info)}
        )

    async def verdict(
        self, meeting: str, guest_id: str, verdict: str, retry_after: int | None = None
    ) -> None:
        envelope: dict[str, Any] = {
            "k": "lobby_left",
            "m": meeting,
            "peer_id": guest_id,
            "verdict": verdict,
        }
        if retry_after is not None:
            envelope["retry_after"] = retry_after
        await self.publish(envelope)

    async def end_call(self, meeting: str, reason: str) -> None:
        await self.publish({"k": "ended", "m": meeting, "reason": reason})

    async def to_peer(self, meeting: str, peer_id: str, out: dict[str, Any]) -> None:
        await self.publish({"k": "peer", "m": meeting, "to": peer_id, "frame": out})

    async def to_call(self, meeting: str, out: dict[str, Any], skip: str | None = None) -> None:
        await self.publish({"k": "call", "m": meeting, "frame": out, "skip": skip})

    async def to_users(self, user_ids: list[str], out: dict[str, Any]) -> None:
        await self.publish({"k": "users", "users": user_ids, "frame": out})


def _info_dict(info: PeerInfo) -> dict[str, Any]:
    return {"id": info.id, "name": info.name, "role": info.role, "user_id": info.user_id}
