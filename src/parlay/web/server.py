"""uvicorn's HTTP/1.1 protocols with a header deadline (slowloris).

uvicorn closes idle keep-alive connections, but never one that is still sending a request's
headers: 500 connections that each send half a request line and then nothing stay open for
ever. These subclasses arm a timer when a connection opens and at the first byte of each new
request, and close the transport if the headers are not complete ``header_timeout`` seconds
later. The body has its own bound (the ``Guard`` middleware).

``http_protocol(seconds)`` gives the class to pass to ``uvicorn.run(..., http=...)``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol  # uvicorn[standard]
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from parlay.realtime.lean_queue import LeanQueue


class _HeaderDeadline:
    """The timer shared by both protocols (a mixin: it needs ``loop`` and ``transport``)."""

    header_timeout: float = 10.0
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    _header_timer: asyncio.TimerHandle | None = None

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_deadline_passed)

    def _disarm_header_deadline(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_deadline_passed(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


class H11HeaderDeadline(_HeaderDeadline, H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        # h11 reports a request only once its headers are complete; until then the peer's
        # state stays IDLE.
        if self._header_timer is None and self.conn.their_state is h11.IDLE:
            self._arm_header_deadline()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # A pipelined request that had only partly arrived is now the current one.
        pending = self.conn.trailing_data[0]
        if pending and self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)


class HttpToolsHeaderDeadline(_HeaderDeadline, HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_message_begin(self) -> None:  # the first byte of a request
        self._arm_header_deadline()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._disarm_header_deadline()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)


def http_protocol(header_timeout: float, kind: str = "auto") -> type[asyncio.Protocol]:
    """The protocol class for ``uvicorn.run(http=...)``: httptools (uvicorn's own default) or,
    with ``kind="h11"``, h11."""
    base: type[Any] = H11HeaderDeadline if kind == "h11" else HttpToolsHeaderDeadline
    return type(base.__name__, (base,), {"header_timeout": header_timeout})


#: The largest WebSocket message a client may send.  ``parlay.web.ws`` refuses frames above
#: 64 KiB anyway (code 1003); the protocol refuses what is far beyond that (1009) before
#: buffering it, instead of uvicorn's 16 MiB per socket.
WS_MAX_MESSAGE = 128 * 1024


def websocket_options() -> dict[str, Any]:
    """uvicorn's WebSocket settings (``uvicorn.run(..., **websocket_options())``).

    Per-message deflate is off: each socket that negotiates it holds two zlib contexts
    (~40-60 KiB), more than everything else a socket holds, to compress frames of a few hundred
    bytes on loopback or behind a proxy that compresses anyway.  The protocol is uvicorn's
    sans-I/O ``websockets`` one (no per-socket task of its own, unlike the legacy
    ``websockets`` one), slimmed by ``LeanWebSocketProtocol``; pings every 20 s find dead
    peers.
    """
    return {
        "ws": LeanWebSocketProtocol,
        "ws_per_message_deflate": False,
        "ws_max_size": WS_MAX_MESSAGE,
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
    }


#: The ASGI scope extension under which ``LeanWebSocketProtocol`` offers ``send_text_now``.
SEND_TEXT_NOW = "parlay.send_text_now"

_last_frame: tuple[bytes, bytes] = (b"", b"")


def _text_frame(payload: bytes) -> bytes:
    """``payload`` as an unmasked, unfragmented text frame, as a server sends it.  The hub
    hands one payload object to every socket in turn: its frame is built once, for the first
    (the last one built is kept, by identity)."""
    global _last_frame
    if _last_frame[0] is not payload:
        _last_frame = (payload, Frame(Opcode.TEXT, payload).serialize(mask=False))
    return _last_frame[1]


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, minus what an open socket never uses again, plus
    a synchronous send.

    Its incoming-frame queue is a ``LeanQueue`` (uvicorn only puts, gets from the one ASGI
    task, and asks ``empty()``), and the handshake's request and response (their headers,
    parsed twice) are let go, and the request's headers emptied, once the handshake is
    answered: only ``send`` before the handshake completes and ``handle_connect`` read them.

    ``send_text_now`` (in the scope's ``extensions`` as ``SEND_TEXT_NOW``) writes a text
    frame without a round through the ASGI ``send`` coroutine, so the live-event hub can write
    one encoded frame to a thousand sockets in one pass (see ``parlay.realtime.hub``), the
    frame's bytes built once for all of them (``websockets`` keeps no per-frame state for what
    a server sends unfragmented).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = LeanQueue()  # type: ignore[assignment]

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # absent when the handshake was refused
        if scope is not None:
            scope["extensions"][SEND_TEXT_NOW] = self.send_text_now

    def send_text_now(self, payload: bytes) -> bool:
        """Write ``payload`` (UTF-8 text) as one frame now, if the socket is open, accepted
        and its write buffer below the transport's high-water mark; False (nothing written)
        otherwise, and the caller sends it later through ``send``, which waits for room.  The
        same calls as ``send`` for a ``websocket.send``.  The protocol's state says it all:
        it is OPEN only once the handshake was answered 101 and until a close is sent or
        failed; a lost connection has a closing transport."""
        conn = self.conn
        if (
            conn.state is not State.OPEN
            or conn.expect_continuation_frame
            or not self.writable.is_set()
            or self.transport.is_closing()
        ):
            return False
        if conn.extensions:  # a negotiated extension (deflate) frames each socket its own way
            conn.send_text(payload)
            self.transport.write(b"".join(conn.data_to_send()))
        else:
            self.transport.write(_text_frame(payload))
        return True

    async def send(self, message: Any) -> None:
        await super().send(message)
        if self.handshake_complete:
            # Attributes uvicorn sets in handle_connect; absent once dropped.
            request = self.__dict__.pop("request", None)
            self.__dict__.pop("response", None)
            if request is not None:
                # websockets' parser keeps the handshake request alive (a local of its
                # generator, which reads frames for the socket's whole life): empty it.
                request.headers.clear()
