"""Video signaling over the WebSocket (both backends): who may enter a call, the lobby, and
relaying only between admitted peers of one meeting.  Real uvicorn, real WebSockets.

The clock is pinned at Monday 2026-11-30 08:00 UTC; Bob books Alice's 08:45-09:30 UTC slot on
Tuesday, whose call opens 15 minutes before (``POST /api/v1/test/clock`` moves us there).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import httpx
import pytest
import websockets

from parlay.main import create_app
from parlay.settings import Settings
from tests.conftest import Person, sign_up_and_in

NOW = datetime.fromisoformat("2026-11-30T08:00:00+00:00")
OPEN = "2026-12-01T08:35:00Z"
MORNINGS = {d: [{"start": "09:00", "end": "12:00"}] for d in ("mon", "tue", "wed", "thu", "fri")}
SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
QUIET = 0.3  # how long we listen to show that nothing arrives


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings(now=NOW)


async def book_meeting(host: Person, booker: Person, room_id: str) -> dict[str, Any]:
    body = {"time_zone": "Europe/Berlin", "weekly": MORNINGS, "duration_minutes": 45}
    invite = await host.client.post(f"/api/v1/rooms/{room_id}/invites", json=body)
    assert invite.status_code == 201, invite.text
    r = await booker.client.post(
        f"/api/v1/invites/{invite.json()['id']}/book", json={"start": "2026-12-01T09:45:00+01:00"}
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def token_of(meeting: dict[str, Any]) -> str:
    return str(meeting["join_url"].rsplit("/", 1)[1])


class Peer:
    """A signaling client: sends typed frames, waits for a frame of a type."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    async def send(self, type_: str, **data: Any) -> None:
        await self.ws.send(json.dumps({"type": type_, "data": data}))

    async def expect(self, type_: str) -> dict[str, Any]:
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), 5))
            self.seen.append(frame)
            if frame["type"] == type_:
                return dict(frame.get("data", frame))

    async def nothing_of(self, *types: str) -> None:
        """No frame of these types arrives while we listen for a moment."""
        try:
            while True:
                frame = json.loads(await asyncio.wait_for(self.ws.recv(), QUIET))
                assert frame["type"] not in types, frame
        except TimeoutError:
            return

    async def error(self) -> dict[str, Any]:
        return await self.expect("video.error")


async def member_socket(server: str, person: Person) -> Peer:
    r = await person.client.post("/api/v1/me/tokens", json={"name": "ws"})
    ws = await websockets.connect(
        f"ws://{server}/api/v1/ws",
        additional_headers={"Authorization": f"Bearer {r.json()['token']}"},
    )
    peer = Peer(ws)
    await peer.expect("hello")
    return peer


async def guest_socket(server: str, anon: httpx.AsyncClient, join_token: str, name: str) -> Any:
    r = await anon.post(f"/m/{join_token}/guests", json={"name": name})
    assert r.status_code == 201, r.text
    ws = await websockets.connect(f"ws://{server}/api/v1/ws?guest={r.json()['token']}")
    peer = Peer(ws)
    hello = await peer.expect("hello")
    return peer, r.json()["token"], hello


async def open_call(anon: httpx.AsyncClient) -> None:
    r = await anon.post("/api/v1/test/clock", json={"now": OPEN})
    assert r.status_code == 204, r.text


async def test_members_join_in_the_window_and_signal_only_each_other(
    server: str,
    anon: httpx.AsyncClient,
    room: dict[str, Any],
    app: Any,
    alice: Person,
    bob: Person,
    carol: Person,
) -> None:
    meeting = await book_meeting(alice, bob, room["id"])
    # Carol has a meeting of her own at the same time, with Dave in another room.
    dave = await sign_up_and_in(app, "Dave Dunn", email="dave@example.com")
    r = await carol.client.post(
        "/api/v1/rooms", json={"title": "C&D", "member_emails": [dave.email]}
    )
    other = await book_meeting(carol, dave, r.json()["id"])
    await dave.client.aclose()
    join = token_of(meeting)
    a, b, c = [await member_socket(server, p) for p in (alice, bob, carol)]

    # Before the window the call is closed: nothing joins.
    await a.send("video.join", join_token=join)
    assert (await a.error())["code"] == "meeting_not_open"
    await open_call(anon)

    await a.send("video.join", join_token=join)
    joined_a = await a.expect("video.joined")
    assert joined_a["peers"] == [] and joined_a["name"] == "Alice Adams"
    # Bob, in the room but not in the call yet, sees on the meeting card who is in it.
    presence = await b.expect("video.presence")
    assert presence["meeting_id"] == meeting["id"]
    assert [p["name"] for p in presence["participants"]] == ["Alice Adams"]

    await b.send("video.join", join_token=join)
    joined_b = await b.expect("video.joined")
    assert [p["name"] for p in joined_b["peers"]] == ["Alice Adams"]
    assert (await a.expect("video.peer_joined"))["peer_id"] == joined_b["peer_id"]

    # Offer, answer, candidates and mute state go between them, stamped with the sender.
    await b.send("video.offer", to=joined_a["peer_id"], sdp=SDP)
    offer = await a.expect("video.offer")
    assert offer == {"peer_id": joined_b["peer_id"], "name": "Bob Brown", "sdp": SDP}
    await a.send("video.answer", to=joined_b["peer_id"], sdp=SDP)
    assert (await b.expect("video.answer"))["peer_id"] == joined_a["peer_id"]
    candidate = {"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "sdpMid": "0"}
    await a.send("video.ice", to=joined_b["peer_id"], candidate=candidate)
    assert (await b.expect("video.ice"))["candidate"] == candidate
    await a.send("video.state", audio=False, video=True)
    state = await b.expect("video.state")
    assert state == {"peer_id": joined_a["peer_id"], "audio": False, "video": True, "screen": False}

    # Carol is not in the room: the link does not let her in as a member, and she reaches
    # nobody in the call.
    await c.send("video.join", join_token=join)
    assert (await c.error())["code"] == "not_found"
    await c.send("video.offer", to=joined_a["peer_id"], sdp=SDP)
    assert (await c.error())["code"] == "not_in_call"

    # Carol in a call of another meeting cannot address Alice's call either.
    await c.send("video.join", join_token=token_of(other))
    await c.expect("video.joined")
    await c.send("video.offer", to=joined_a["peer_id"], sdp=SDP)
    error = await c.error()
    assert error["code"] == "not_found" and error["field"] == "to"
    await a.nothing_of("video.offer")

    # Bob leaves: Alice hears it, and the card shows Alice alone again.
    await b.send("video.leave")
    assert (await a.expect("video.peer_left"))["peer_id"] == joined_b["peer_id"]
    presence = await b.expect("video.presence")
    assert [p["name"] for p in presence["participants"]] == ["Alice Adams"]
    for peer in (a, b, c):
        await peer.ws.close()


async def test_guest_waits_in_the_lobby_until_a_member_admits_them(
    server: str, anon: httpx.AsyncClient, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    meeting = await book_meeting(alice, bob, room["id"])
    join = token_of(meeting)
    await open_call(anon)
    a = await member_socket(server, alice)
    await a.send("video.join", join_token=join)
    alice_id = (await a.expect("video.joined"))["peer_id"]

    guest, pass_, hello = await guest_socket(server, anon, join, "  Gina   Guest ")
    assert hello["guest"] is True
    # The pass is for this meeting's signaling only: no API, no meeting, no room.
    for path in ("/api/v1/me", f"/api/v1/meetings/{meeting['id']}", f"/api/v1/rooms/{room['id']}"):
        r = await anon.get(path, headers={"Authorization": f"Bearer {pass_}"})
        assert r.status_code == 401, (path, r.status_code)
    # Before admission a guest can neither join nor signal.
    await guest.send("video.join")
    assert (await guest.error())["code"] == "not_in_call"
    await guest.send("video.offer", to=alice_id, sdp=SDP)
    assert (await guest.error())["code"] == "not_in_call"
    await a.nothing_of("video.offer")

    await guest.send("video.knock")
    await guest.expect("video.waiting")
    knock = await a.expect("video.knock")
    assert knock["name"] == "Gina Guest" and knock["role"] == "guest"

    # Bob joins later and still sees who waits.
    b = await member_socket(server, bob)
    await b.send("video.join", join_token=join)
    assert [g["name"] for g in (await b.expect("video.joined"))["lobby"]] == ["Gina Guest"]
    assert (await a.expect("video.peer_joined"))["name"] == "Bob Brown"

    await a.send("video.admit", peer_id=knock["peer_id"])
    await guest.expect("video.admitted")
    assert (await b.expect("video.lobby_closed"))["verdict"] == "admitted"
    await guest.send("video.join")
    joined = await guest.expect("video.joined")
    assert sorted(p["name"] for p in joined["peers"]) == ["Alice Adams", "Bob Brown"]
    assert (await a.expect("video.peer_joined"))["name"] == "Gina Guest"
    await guest.send("video.offer", to=alice_id, sdp=SDP)
    assert (await a.expect("video.offer"))["name"] == "Gina Guest"
    for peer in (a, b, guest):
        await peer.ws.close()


async def test_declined_guest_hears_nothing_and_cannot_knock_again_at_once(
    server: str, anon: httpx.AsyncClient, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    meeting = await book_meeting(alice, bob, room["id"])
    join = token_of(meeting)
    await open_call(anon)
    a = await member_socket(server, alice)
    await a.send("video.join", join_token=join)
    await a.expect("video.joined")
    guest, _, _ = await guest_socket(server, anon, join, "Dan Decline")
    await guest.send("video.knock")
    knock = await a.expect("video.knock")
    await a.send("video.decline", peer_id=knock["peer_id"])
    assert (await guest.expect("video.declined"))["retry_after"] > 0
    await guest.send("video.join")
    assert (await guest.error())["code"] == "not_in_call"
    await guest.send("video.knock")
    limited = await guest.error()
    assert limited["code"] == "rate_limited" and limited["retry_after"] > 0
    # A fresh pass from the same address does not get round it.
    again, _, _ = await guest_socket(server, anon, join, "Dan Again")
    await again.send("video.knock")
    assert (await again.error())["code"] == "rate_limited"
    await a.nothing_of("video.knock")
    # Only a member in the call admits; a guest cannot admit itself.
    await guest.send("video.admit", peer_id=knock["peer_id"])
    assert (await guest.error())["code"] == "not_in_call"
    for peer in (a, guest, again):
        await peer.ws.close()


async def test_bad_frames_are_answered_with_an_error_and_the_socket_stays(
    server: str, room: dict[str, Any], anon: httpx.AsyncClient, alice: Person, bob: Person
) -> None:
    meeting = await book_meeting(alice, bob, room["id"])
    await open_call(anon)
    a = await member_socket(server, alice)
    await a.send("video.join", join_token=token_of(meeting))
    joined = await a.expect("video.joined")
    bad: list[dict[str, Any]] = [
        {"type": "video.offer", "data": {"to": joined["peer_id"], "sdp": "x" * 40_000}},
        {"type": "video.offer", "data": {"to": "zz", "sdp": SDP}},
        {"type": "video.state", "data": {"audio": "yes", "video": True}},
        {"type": "video.state", "data": {"audio": True, "video": True, "extra": 1}},
        {"type": "video.teleport", "data": {}},
        {"type": "video.admit", "data": []},
    ]
    for frame in bad:
        await a.ws.send(json.dumps(frame))
        error = await a.error()
        assert error["about"] == frame["type"] and error["code"] in ("invalid", "not_found")
    await a.ws.send(json.dumps({"type": "ping"}))
    await a.expect("pong")
    await a.ws.close()


async def test_cancelled_meeting_link_is_dead(
    server: str, anon: httpx.AsyncClient, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    meeting = await book_meeting(alice, bob, room["id"])
    join = token_of(meeting)
    await open_call(anon)
    assert (await anon.get(f"/m/{join}")).status_code == 200
    r = await bob.client.post(f"/api/v1/meetings/{meeting['id']}/cancel", json={})
    assert r.status_code == 200, r.text
    page = await anon.get(f"/m/{join}")
    assert page.status_code == 410 and "This meeting was cancelled" in page.text
    assert (await anon.get("/m/no-such-link")).status_code == 404
    r = await anon.post(f"/m/{join}/guests", json={"name": "Late Guest"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "meeting_cancelled"
    a = await member_socket(server, alice)
    await a.send("video.join", join_token=join)
    assert (await a.error())["code"] == "meeting_cancelled"
    await a.ws.close()


async def test_clock_moves_forward_only_and_only_in_tests(
    anon: httpx.AsyncClient, make_settings: Any
) -> None:
    r = await anon.post("/api/v1/test/clock", json={"now": "2026-11-29T08:00:00Z"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "now"
    unpinned = create_app(make_settings())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=unpinned), base_url="http://testserver"
    ) as client:
        r = await client.post("/api/v1/test/clock", json={"now": OPEN})
        assert r.status_code == 404
