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
