"""A client for the Janus WebSocket API (``ws://host:8188``, subprotocol ``janus-protocol``).

One connection per Parlay node, opened on first use and again after it drops (with a short
backoff).  Requests are matched to answers by ``transaction``; every request has a timeout, so
a Janus that hangs fails a join instead of hanging it.  Sessions created through the client
get a keepalive every ``KEEPALIVE_SECONDS`` (Janus drops a session after 60 s of silence).
Asynchronous plugin events (``event`` without a pending transaction, ``webrtcup``, ``hangup``,
``detached``...) go to the listener registered for the handle that sent them.  When the
connection is lost, every session on it is gone too (Janus reclaims nothing by default):
each session's ``on_lost`` is called so its owner can end the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 25.0
REQUEST_TIMEOUT = 10.0
CONNECT_TIMEOUT = 5.0
RECONNECT_BACKOFF = 1.0
VIDEOROOM = "janus.plugin.videoroom"

Listener = Callable[[dict[str, Any]], None]


class JanusError(Exception):
    """Janus refused a request (``code`` from its error or the plugin's ``error_code``)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"janus error {code}: {reason}")
        self.code = code
        self.reason = reason


class JanusUnavailable(Exception):
    """Janus could not be reached, or did not answer in time."""


class JanusClient:
    def __init__(self, url: str, *, timeout: float = REQUEST_TIMEOUT) -> None:
        self.url = url
        self.timeout = timeout
        self._ws: ClientConnection | None = None
        self._connecting = asyncio.Lock()
        self._pending: dict[str, tuple[asyncio.Future[dict[str, Any]], bool]] = {}
        self._handles: dict[int, Listener] = {}
        self._sessions: dict[int, Callable[[], None]] = {}  # session id -> on_lost
        self._tasks: list[asyncio.Task[None]] = []
        self._failed_at = 0.0

    # --- the connection ----------------------------------------------------------------------
    async def _connection(self) -> ClientConnection:
        async with self._connecting:
            if self._ws is not None:
                return self._ws
            if time.monotonic() - self._failed_at < RECONNECT_BACKOFF:
                raise JanusUnavailable("Janus was unreachable a moment ago")
            try:
                self._ws = await asyncio.wait_for(
                    websockets.connect(
                        self.url,
                        subprotocols=[websockets.Subprotocol("janus-protocol")],
                        max_size=4 * 1024 * 1024,
                        open_timeout=CONNECT_TIMEOUT,
                    ),
                    CONNECT_TIMEOUT,
                )
            except (OSError, TimeoutError, websockets.WebSocketException) as exc:
                self._failed_at = time.monotonic()
                raise JanusUnavailable(f"cannot reach Janus at {self.url}: {exc}") from exc
            self._tasks = [
                asyncio.create_task(self._read(self._ws), name="janus-read"),
                asyncio.create_task(self._keepalive(self._ws), name="janus-keepalive"),
            ]
            return self._ws

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                with contextlib.suppress(ValueError, TypeError, KeyError):
                    self._dispatch(json.loads(raw))
        except websockets.WebSocketException:
            pass
        finally:
            self._lost(ws)

    def _lost(self, ws: ClientConnection) -> None:
        if self._ws is not ws:
            return
        self._ws = None
        for future, _ in self._pending.values():
            if not future.done():
                future.set_exception(JanusUnavailable("the connection to Janus was lost"))
        self._pending.clear()
        self._handles.clear()
        lost, self._sessions = self._sessions, {}
        for on_lost in lost.values():
            with contextlib.suppress(Exception):
                on_lost()
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()

    async def _keepalive(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_SECONDS)
            for session_id in list(self._sessions):
                with contextlib.suppress(JanusError, JanusUnavailable):
                    await self.request({"janus": "keepalive", "session_id": session_id})

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("janus")
        pending = self._pending.get(str(message.get("transaction", "")))
        if pending is not None:
            future, wants_event = pending
            if kind == "ack" and wants_event:
                return  # the answer follows as an event with the same transaction
            del self._pending[str(message["transaction"])]
            if not future.done():
                future.set_result(message)
            return
        if kind == "timeout":
            on_lost = self._sessions.pop(int(message["session_id"]), None)
            if on_lost is not None:
                on_lost()
            return
        listener = self._handles.get(int(message.get("sender", 0)))
        if listener is not None:
            listener(message)

    async def close(self) -> None:
        ws = self._ws
        if ws is not None:
            self._sessions.clear()
            await ws.close()
            self._lost(ws)

    # --- requests ----------------------------------------------------------------------------
    async def request(self, body: dict[str, Any], *, wants_event: bool = False) -> dict[str, Any]:
        """Send one request; its answer (``wants_event``: the event after the ack)."""
        ws = await self._connection()
        transaction = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[transaction] = (future, wants_event)
        try:
            await ws.send(json.dumps({**body, "transaction": transaction}))
            answer = await asyncio.wait_for(future, self.timeout)
        except TimeoutError as exc:
            raise JanusUnavailable(f"Janus did not answer {body.get('janus')} in time") from exc
        except websockets.WebSocketException as exc:
            raise JanusUnavailable("the connection to Janus was lost") from exc
        finally:
            self._pending.pop(transaction, None)
        _raise_for_error(answer)
        return answer

    async def create_session(self, on_lost: Callable[[], None]) -> int:
        answer = await self.request({"janus": "create"})
        session_id = int(answer["data"]["id"])
        self._sessions[session_id] = on_lost
        return session_id

    async def destroy_session(self, session_id: int) -> None:
        if self._sessions.pop(session_id, None) is None:
            return
        with contextlib.suppress(JanusError, JanusUnavailable):
            await self.request({"janus": "destroy", "session_id": session_id})

    async def attach(self, session_id: int, listener: Listener, plugin: str = VIDEOROOM) -> int:
        answer = await self.request({"janus": "attach", "session_id": session_id, "plugin": plugin})
        handle_id = int(answer["data"]["id"])
        self._handles[handle_id] = listener
        return handle_id

    async def detach(self, session_id: int, handle_id: int) -> None:
        self._handles.pop(handle_id, None)
        with contextlib.suppress(JanusError, JanusUnavailable):
            await self.request(
                {"janus": "detach", "session_id": session_id, "handle_id": handle_id}
            )

    async def message(
        self,
        session_id: int,
        handle_id: int,
        body: dict[str, Any],
        jsep: dict[str, Any] | None = None,
        *,
        wants_event: bool = False,
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """A plugin request: ``(plugin data, jsep)`` of its answer."""
        out: dict[str, Any] = {
            "janus": "message",
            "session_id": session_id,
            "handle_id": handle_id,
            "body": body,
        }
        if jsep is not None:
            out["jsep"] = jsep
        answer = await self.request(out, wants_event=wants_event)
        data = answer.get("plugindata", {}).get("data", {})
        return data, answer.get("jsep")

    async def trickle(self, session_id: int, handle_id: int, candidate: dict[str, Any]) -> None:
        await self.request(
            {
                "janus": "trickle",
                "session_id": session_id,
                "handle_id": handle_id,
                "candidate": candidate,
            }
        )


def _raise_for_error(answer: dict[str, Any]) -> None:
    if answer.get("janus") == "error":
        error = answer.get("error", {})
        raise JanusError(int(error.get("code", 0)), str(error.get("reason", "unknown")))
    data = answer.get("plugindata", {}).get("data", {})
    if isinstance(data, dict) and "error_code" in data:
        raise JanusError(int(data["error_code"]), str(data.get("error", "unknown")))
