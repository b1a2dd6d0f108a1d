"""``WS /api/v1/ws`` is routed around the HTTP middleware (``parlay.web.ws.LiveSocketRoute``):
what that middleware did for a socket still holds, and other WebSocket paths are refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from parlay.settings import Settings
from tests.conftest import Person
from tests.web.test_live import token_of


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    settings: Settings = make_settings(trusted_proxies="127.0.0.1")
    return settings


async def test_a_trusted_proxy_names_the_sockets_client(
    server: str, app: Any, bob: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind a trusted proxy, the socket's address (what video rate-limits a knocking guest
    by) is the client the proxy names, not the proxy."""
    relay = app.state.container.video.relay
    seen: list[str] = []
    attach = relay.attach

    def spy(user_id: str | None, address: str = "") -> Any:
        seen.append(address)
        return attach(user_id, address)

    monkeypatch.setattr(relay, "attach", spy)
    headers = {"Authorization": f"Bearer {await token_of(bob)}", "X-Forwarded-For": "203.0.113.7"}
    async with websockets.connect(f"ws://{server}/api/v1/ws", additional_headers=headers) as ws:
        assert json.loads(await ws.recv())["type"] == "hello"
    assert seen == ["203.0.113.7"]


async def test_other_websocket_paths_are_refused(server: str, bob: Person) -> None:
    headers = {"Authorization": f"Bearer {await token_of(bob)}"}
    for path in ("/api/v1/ws/", "/api/v1/wss", "/api/v1/rooms"):
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(f"ws://{server}{path}", additional_headers=headers)
        assert refused.value.response.status_code == 403, path
