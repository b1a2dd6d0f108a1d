"""``WS /api/v1/ws``: live events with resume, and the video signaling frames.

Server frames are ``{"cursor", "type", "data"}``; the first is ``{"type": "hello", "cursor"}``
(the cursor the stream starts after).
A client reconnects with ``?since=<cursor>`` and is replayed every event it missed, in order,
once.  A ``since`` ahead of the log (a cursor this server never issued, or one from a database
that was since restored) is not trusted: the hello then carries the real newest cursor and
``"resync": true``, and the client refetches its state instead of waiting for events.
Client frames are JSON objects with a ``type``; ``ping`` is answered with ``pong``.
Anything else that is not a JSON object closes that socket (code 1003) and nothing more.
When the socket's session logs out or its token is revoked, on any node, the socket closes
with code 4401 (reason "signed out").

On a member's socket, ``video.presence`` frames right after the hello say who is in the
calls of the member's rooms at that moment; a ``meeting.cancelled`` event passing through
ends that meeting's call (everyone in it gets ``video.ended``).

Video signaling (README "Video signaling"): frames whose type starts with ``video.`` go to
``parlay.services.video``; a refused one is answered ``{"type": "video.error", "data": {code,
message, field?, about}}`` and the socket stays open.  A guest connects with
``?guest=<pass>`` (from ``POST /m/{join_token}/guests``): its socket carries signaling for
that one meeting and no live events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast
from urllib.parse import urlsplit

from fastapi import WebSocket, WebSocketDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketState
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from parlay.domain.errors import DomainError, RateLimited, Unauthenticated
from parlay.realtime.hub import DirectSend, Hub, LiveEvent, Subscription
from parlay.realtime.signaling import Channel
from parlay.services import events
from parlay.services.accounts import Principal, authenticate_session, authenticate_token
from parlay.services.context import Context
from parlay.services.video import VideoService
from parlay.services.video_frames import is_video
from parlay.web.deps import SESSION_COOKIE, bearer_token
from parlay.web.server import SEND_TEXT_NOW

log = logging.getLogger(__name__)
MAX_FRAME = 64 * 1024
SIGNED_OUT = "signed out"


async def _authenticate(ws: WebSocket) -> Principal | None:
    ctx: Context = ws.app.state.ctx
    try:
        token = bearer_token(ws.headers.get("authorization"))
        if token is not None:
            return await authenticate_token(ctx, token)
        cookie = ws.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        origin = ws.headers.get("origin")
        if origin and urlsplit(origin).netloc != ws.headers.get("host"):
            return None  # cross-site WebSocket hijacking: cookies alone do not authorize
        return await authenticate_session(ctx, cookie)
    except Unauthenticated:
        return None


def _parse_since(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise ValueError("bad cursor")
    return int(raw)


def _video(ws: WebSocket) -> VideoService:
    video: VideoService = ws.app.state.container.video
    return video


def _address(ws: WebSocket) -> str:
    return ws.client.host if ws.client is not None else ""


PATH = "/api/v1/ws"


class LiveSocketRoute:
    """The ASGI app in front of everything else: ``WS /api/v1/ws`` goes straight to ``live``,
    everything else to ``app`` (FastAPI's middleware stack and router).

    A live socket is the one request that lasts for hours, and every layer it passes through
    keeps a coroutine frame for that long.  The HTTP middleware (the Guard, metrics, body
    limit, exception handling) and FastAPI's routing and dependency machinery do nothing for a
    WebSocket, yet held about a quarter of what an idle socket costs.  With trusted proxies,
    their headers still set the socket's client address (video uses it).
    """

    def __init__(self, app: ASGIApp, trusted_proxies: str = "") -> None:
        self.app = app
        self.live: ASGIApp = _live_app
        if trusted_proxies:  # uvicorn's types are narrower than Starlette's ASGIApp
            proxied = ProxyHeadersMiddleware(cast(Any, _live_app), trusted_hosts=trusted_proxies)
            self.live = cast(ASGIApp, proxied)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and _route_path(scope) == PATH:
            await self.live(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


async def _live_app(scope: Scope, receive: Receive, send: Send) -> None:
    await live(WebSocket(scope, receive, send))


async def _accept(ws: WebSocket) -> None:
    """Accept the socket and let go of its handshake's headers: they were read to sign in,
    and an open socket would otherwise hold them for as long as it lives."""
    await ws.accept()
    headers = ws.scope.get("headers")
    if isinstance(headers, list):
        headers.clear()


async def live(ws: WebSocket) -> None:
    guest_token = ws.query_params.get("guest")
    if guest_token is not None:
        await _guest(ws, guest_token)
        return
    principal = await _authenticate(ws)
    if principal is None:
        await ws.close(code=4401, reason="unauthenticated")
        return
    try:
        since = _parse_since(ws.query_params.get("since"))
    except ValueError:
        await ws.close(code=4400, reason="bad cursor")
        return
    ctx: Context = ws.app.state.ctx
    hub: Hub = ws.app.state.hub
    video: VideoService = _video(ws)
    # Subscribed before anything else is awaited: a revocation heard from now on ends it.
    sub = hub.subscribe(principal.user.id, principal.key)
    channel = video.relay.attach(principal.user.id, _address(ws))
    try:
        if sub.ended:  # signed out while this socket was signing in
            await ws.close(code=4401, reason=SIGNED_OUT)
            return
        await _accept(ws)
        newest = await events.last_event_id(ctx.db)
        hello: dict[str, Any] = {"type": "hello"}
        if since is not None and since > newest:
            since = None
            hello["resync"] = True
        start = since if since is not None else newest
        sub.mark_sent(start)
        await ws.send_json({**hello, "cursor": str(start)})
        if since is not None:
            await _replay(ws, ctx, sub)
        await video.presence_snapshot(channel)  # who is in the calls of my rooms right now
        await _serve(ws, sub, channel, video)
    except WebSocketDisconnect:
        pass
    finally:
        hub.unsubscribe(sub)
        await video.disconnected(channel)


async def _guest(ws: WebSocket, token: str) -> None:
    """A guest's socket: its pass names one meeting; signaling only, no live events."""
    video: VideoService = _video(ws)
    guest = video.guest_of(token)
    if guest is None:
        await ws.close(code=4401, reason="unauthenticated")
        return
    try:
        channel = await video.attach_guest(guest, _address(ws))
    except DomainError:
        await ws.close(code=4401, reason="unauthenticated")
        return
    try:
        await _accept(ws)
        await ws.send_json({"type": "hello", "guest": True, "peer_id": channel.id})
        await _serve(ws, None, channel, video)
    except WebSocketDisconnect:
        pass
    finally:
        await video.disconnected(channel)


async def _replay(ws: WebSocket, ctx: Context, sub: Subscription) -> None:
    while True:
        batch = await events.fetch_for_user(ctx.db, sub.user_id, sub.last_sent)
        if not batch:
            return
        for event in batch:
            if sub.ended:
                return  # _serve closes it
            await ws.send_json(event.wire())
            sub.mark_sent(event.id)


async def _serve(
    ws: WebSocket, sub: Subscription | None, channel: Channel, video: VideoService
) -> None:
    lock = asyncio.Lock()  # one sender at a time: live events, signaling, replies
    senders = [_Sender(lambda: _send_signals(ws, channel, lock))]
    channel.on_queued(senders[0].kick)
    if sub is not None:
        senders.append(_Sender(lambda: _send_events(ws, sub, lock, video)))
        sub.on_queued(senders[1].kick)
        send_text_now = ws.scope.get("extensions", {}).get(SEND_TEXT_NOW)
        if send_text_now is not None:
            sub.direct = _direct(send_text_now)
    # What was queued while the socket was being set up (replay, presence) goes out now.
    if channel.pending():
        senders[0].kick()
    if sub is not None and sub.pending():
        senders[1].kick()
    try:
        await _receive_loop(ws, channel, video, lock)
    finally:
        channel.on_queued(None)
        if sub is not None:
            sub.on_queued(None)
            sub.direct = None
        for sender in senders:
            await sender.stop()


class _Sender:
    """A socket's sender for one queue, as a task that exists only while the queue holds
    something: ``kick`` (the queue's ``on_queued`` hook) starts it, and it ends once the queue
    is empty, so an idle socket keeps no sender task.  ``drain`` writes what is queued and
    says whether the socket is finished (it closed it); nothing is sent after that."""

    __slots__ = ("_drain", "_task", "_stopped")

    def __init__(self, drain: Callable[[], Awaitable[bool]]) -> None:
        self._drain = drain
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    def kick(self) -> None:
        if not self._stopped and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            if await self._drain():
                self._stopped = True
        except Exception:  # the peer went away mid-send: the receive loop ends the socket
            log.debug("socket send failed", exc_info=True)
            self._stopped = True

    async def stop(self) -> None:
        self._stopped = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _direct(send_text_now: Callable[[bytes], bool]) -> DirectSend:
    """``Subscription.direct`` for a socket whose protocol can write at once."""

    def send(event: LiveEvent, frame: bytes) -> bool:
        # A cancelled meeting goes through the sender, which also ends its call.
        return event.type != "meeting.cancelled" and send_text_now(frame)

    return send


async def _send_events(
    ws: WebSocket, sub: Subscription, lock: asyncio.Lock, video: VideoService
) -> bool:
    """Write the subscription's queued events; True once the socket is closed."""
    while sub.pending():
        event = await sub.next()
        try:
            async with lock:
                if event is None:
                    await ws.close(code=4401, reason=SIGNED_OUT)
                    return True
                if sub.overflowed:
                    await ws.close(code=1013, reason="too far behind; reconnect with since")
                    return True
                await ws.send_json(event.wire())
        finally:
            sub.done()
        if event.type == "meeting.cancelled":  # its call ends for everyone in it
            data = event.data
            await video.meeting_cancelled(str(data.get("id")), data.get("room_id"))
    return False


async def _send_signals(ws: WebSocket, channel: Channel, lock: asyncio.Lock) -> bool:
    """Write the channel's queued signaling frames; True once it is closed."""
    while channel.pending():
        out = await channel.next()
        async with lock:
            if out is None:
                if channel.overflowed:
                    await ws.close(code=1013, reason="too far behind")
                return True
            await ws.send_json(out)
    return False


async def _video_frame(
    ws: WebSocket, channel: Channel, video: VideoService, frame: dict[str, Any], lock: asyncio.Lock
) -> None:
    type_ = frame["type"]
    try:
        await video.handle(channel, type_, frame.get("data"))
    except DomainError as exc:
        error: dict[str, Any] = {"code": exc.code, "message": exc.message, "about": type_}
        if exc.field is not None:
            error["field"] = exc.field
        if isinstance(exc, RateLimited):
            error["retry_after"] = exc.retry_after
        async with lock:
            await ws.send_json({"type": "video.error", "data": error})


async def _receive_loop(
    ws: WebSocket, channel: Channel, video: VideoService, lock: asyncio.Lock
) -> None:
    while ws.application_state == WebSocketState.CONNECTED:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        frame = None
        if text is not None and len(text) <= MAX_FRAME:
            with contextlib.suppress(ValueError):
                frame = json.loads(text)
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await ws.close(code=1003, reason="frames must be JSON objects with a type")
            return
        if frame["type"] == "ping":
            async with lock:
                await ws.send_json({"type": "pong"})
        elif is_video(frame["type"]):
            await _video_frame(ws, channel, video, frame, lock)
