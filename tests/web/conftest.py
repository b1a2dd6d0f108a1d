"""Fixtures for the web tests: the app served by a real uvicorn on a free port."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from parlay.web.server import websocket_options


@pytest.fixture
async def server(app: Any) -> AsyncIterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Production's WebSocket protocol and settings (``parlay serve``), so the sockets the
    # tests open take the same paths (the hub's direct writes included); proxy headers are
    # the app's business (PARLAY_TRUSTED_PROXIES), not uvicorn's, as in production.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        proxy_headers=False,
        **websocket_options(),
    )
    srv = uvicorn.Server(config)
    task = asyncio.create_task(srv.serve())
    while not srv.started:  # noqa: ASYNC110 (uvicorn exposes a flag, not an event)
        await asyncio.sleep(0.01)
    yield f"127.0.0.1:{port}"
    srv.should_exit = True
    await task
