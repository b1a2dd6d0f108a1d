"""Real uvicorn servers on free ports for the web tests (``serving``; ``production_options``
serves as ``parlay serve`` does), and a plain ASGI app that records the requests it gets: the
stand-in for a webhook receiver or a push service in the notification tests."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from parlay.web.server import websocket_options


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0


@dataclass
class Recorder:
    """Answers each request with ``answer(request)`` (a status code) and keeps them all."""

    answer: Callable[[Received], int] = lambda _request: 201
    requests: list[Received] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        request = Received(scope["method"], scope["path"], headers, body)
        request.status = self.answer(request)
        self.requests.append(request)
        await send({"type": "http.response.start", "status": request.status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def production_options() -> dict[str, Any]:
    """``uvicorn.Config`` settings as ``parlay serve`` has them: its WebSocket protocol and
    settings, so the sockets tests open take the same paths (the hub's direct writes
    included), and proxy headers left to the app (PARLAY_TRUSTED_PROXIES), not uvicorn."""
    return {"proxy_headers": False, **websocket_options()}


@asynccontextmanager
async def serving(app: Any, **options: Any) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 (``options``: more ``uvicorn.Config`` settings); yields its
    origin (``http://127.0.0.1:<port>``)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="off", log_level="warning", **options
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn exposes a flag, not an event)
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
