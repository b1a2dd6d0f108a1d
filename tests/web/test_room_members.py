"""Adding room members: simultaneous additions, the added user told live, and e-mail lookups
that cannot enumerate accounts (both backends)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx

from parlay.main import create_app
from tests.conftest import Person, sign_up_and_in
from tests.web.test_live import connect, next_of_type, token_of
from tests.web.test_login_limits import NOW, Clock


def members_url(room: dict[str, Any]) -> str:
    return f"/api/v1/rooms/{room['id']}/members"


def code(r: httpx.Response) -> str:
    return str(r.json()["error"]["code"])


async def test_thirty_simultaneous_adds_make_one_member(
    room: dict[str, Any], alice: Person, bob: Person, carol: Person
) -> None:
    responses = await asyncio.gather(
        *(
            (alice if i % 2 else bob).client.post(members_url(room), json={"email": carol.email})
            for i in range(30)
        )
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 29}, statuses
    assert {code(r) for r in responses if r.status_code == 409} == {"already_member"}
    members = (await carol.client.get(f"/api/v1/rooms/{room['id']}")).json()["members"]
    assert sorted(m["display_name"] for m in members) == ["Alice Adams", "Bob Brown", "Carol Chen"]
    winner = next(i for i, r in enumerate(responses) if r.status_code == 201)
    adder = "Alice Adams" if winner % 2 else "Bob Brown"
    history = (await carol.client.get(f"/api/v1/rooms/{room['id']}/messages")).json()["messages"]
    added = [m["body"] for m in history if m["kind"] == "system" and "added" in m["body"]]
    assert added == [f"{adder} added Carol Chen."]


async def test_the_added_user_hears_of_it_live(
    server: str, room: dict[str, Any], alice: Person, bob: Person, carol: Person
) -> None:
    ws, _ = await connect(server, await token_of(carol))
    assert (await carol.client.get("/api/v1/rooms")).json()["rooms"] == []
    r = await bob.client.post(members_url(room), json={"email": carol.email})
    assert r.status_code == 201
    frame = await next_of_type(ws, "message.created")
    assert frame["data"]["room_id"] == room["id"]
    assert frame["data"]["kind"] == "system"
    assert frame["data"]["body"] == "Bob Brown added Carol Chen."
    # The room the client did not know yet is now in the list it loads (rooms.js fetches it).
    rooms = (await carol.client.get("/api/v1/rooms")).json()["rooms"]
    assert [x["id"] for x in rooms] == [room["id"]]
    await ws.close()


async def test_unknown_email_lookups_are_rate_limited_per_caller(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, carol: Person
) -> None:
    clock = Clock(NOW)
    app.state.ctx.limiter.clock = clock
    for i in range(20):
        r = await alice.client.post(members_url(room), json={"email": f"ghost{i}@example.com"})
        assert r.status_code == 422 and code(r) == "unknown_user", r.text
    r = await alice.client.post(members_url(room), json={"email": "ghost20@example.com"})
    assert r.status_code == 429 and code(r) == "rate_limited"
    assert 0 < int(r.headers["Retry-After"]) <= 3600
    # Room creation looks e-mails up too, and shares the budget.
    r = await alice.client.post(
        "/api/v1/rooms", json={"title": "probe", "member_emails": ["ghost21@example.com"]}
    )
    assert r.status_code == 429 and code(r) == "rate_limited"
    # Another caller has a budget of their own.
    r = await bob.client.post(members_url(room), json={"email": "ghost22@example.com"})
    assert r.status_code == 422 and code(r) == "unknown_user"
    clock.advance(3600)
    r = await alice.client.post(members_url(room), json={"email": carol.email})
    assert r.status_code == 201


async def test_room_creation_pays_for_every_email_its_answer_reveals(
    app: Any, alice: Person, bob: Person, carol: Person
) -> None:
    """Naming the first unknown e-mail (in order) tells that the ones before it exist."""
    app.state.ctx.limiter.clock = Clock(NOW)
    probe = [carol.email, bob.email, "zz-ghost@example.com"]  # reveals three
    for _ in range(6):
        r = await alice.client.post("/api/v1/rooms", json={"title": "p", "member_emails": probe})
        assert r.status_code == 422 and code(r) == "unknown_user"
        assert "zz-ghost@example.com" in r.json()["error"]["message"]
    # 18 spent: another three-e-mail answer would pass the budget, so nothing is answered.
    r = await alice.client.post("/api/v1/rooms", json={"title": "p", "member_emails": probe})
    assert r.status_code == 429 and code(r) == "rate_limited"
    # A room whose people all exist creates fine while budget is left (two left).
    r = await alice.client.post("/api/v1/rooms", json={"title": "ok", "member_emails": [bob.email]})
    assert r.status_code == 201


async def test_lookup_limits_follow_the_switch(make_settings: Any) -> None:
    app = create_app(make_settings(rate_limits="off"))
    async with app.router.lifespan_context(app):
        alice = await sign_up_and_in(app, "alice")
        try:
            for i in range(25):
                r = await alice.client.post(
                    "/api/v1/rooms", json={"title": "t", "member_emails": [f"g{i}@example.com"]}
                )
                assert r.status_code == 422 and code(r) == "unknown_user"
        finally:
            await alice.client.aclose()
