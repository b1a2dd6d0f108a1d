"""Personal access tokens: listed without their secret, revoked at once, managed only from a
signed-in session, last use recorded at most about once a minute (both backends)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI

from parlay.services.principals import PrincipalCache
from tests.conftest import Person, another_node


def error(r: httpx.Response) -> dict[str, Any]:
    body = r.json()
    assert set(body) == {"error"}, body
    return dict(body["error"])


async def make_token(person: Person, name: str) -> dict[str, Any]:
    r = await person.client.post("/api/v1/me/tokens", json={"name": name})
    assert r.status_code == 201, r.text
    return dict(r.json())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_tokens_are_listed_with_last_use_and_never_their_secret(
    app: FastAPI, anon: httpx.AsyncClient, alice: Person
) -> None:
    made = await make_token(alice, "  laptop script ")
    assert made["token"].startswith("plt_") and made["name"] == "laptop script"

    r = await alice.client.get("/api/v1/me/tokens")
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    [listed] = r.json()["tokens"]
    assert set(listed) == {"id", "name", "created_at", "last_used_at"}
    assert listed["id"] == made["id"] and listed["name"] == "laptop script"
    assert listed["last_used_at"] is None
    assert made["token"] not in r.text and made["token"][4:] not in r.text

    assert (await anon.get("/api/v1/me", headers=bearer(made["token"]))).status_code == 200
    await app.state.ctx.principals.settled()  # the use is recorded beside the request
    [used] = (await alice.client.get("/api/v1/me/tokens")).json()["tokens"]
    first_use = datetime.fromisoformat(used["last_used_at"])
    assert first_use >= datetime.fromisoformat(used["created_at"])

    # Used again within the minute: not written again (the clock is not pinned here, so a
    # write on every request would have moved it).
    assert (await anon.get("/api/v1/rooms", headers=bearer(made["token"]))).status_code == 200
    await app.state.ctx.principals.settled()
    [again] = (await alice.client.get("/api/v1/me/tokens")).json()["tokens"]
    assert datetime.fromisoformat(again["last_used_at"]) == first_use


async def test_a_revoked_token_stops_working_at_once(
    anon: httpx.AsyncClient, alice: Person
) -> None:
    kept, revoked = await make_token(alice, "kept"), await make_token(alice, "revoked")
    for token in (kept, revoked):  # both are now in this node's principal cache
        assert (await anon.get("/api/v1/me", headers=bearer(token["token"]))).status_code == 200

    assert (await alice.client.delete(f"/api/v1/me/tokens/{revoked['id']}")).status_code == 204

    r = await anon.get("/api/v1/me", headers=bearer(revoked["token"]))
    assert r.status_code == 401 and error(r)["code"] == "unauthenticated"
    assert (await anon.get("/api/v1/me", headers=bearer(kept["token"]))).status_code == 200
    listed = (await alice.client.get("/api/v1/me/tokens")).json()["tokens"]
    assert [t["id"] for t in listed] == [kept["id"]]
    r = await alice.client.delete(f"/api/v1/me/tokens/{revoked['id']}")
    assert r.status_code == 404 and error(r)["code"] == "not_found"


async def test_someone_elses_or_an_unknown_token_is_not_found(
    anon: httpx.AsyncClient, alice: Person, bob: Person
) -> None:
    bobs = await make_token(bob, "bob's")
    for token_id in (bobs["id"], "00000000-0000-0000-0000-000000000000", "x" * 300):
        r = await alice.client.delete(f"/api/v1/me/tokens/{token_id}")
        assert r.status_code == 404 and error(r)["code"] == "not_found"
    assert (await anon.get("/api/v1/me", headers=bearer(bobs["token"]))).status_code == 200
    assert (await alice.client.get("/api/v1/me/tokens")).json()["tokens"] == []
    assert [t["id"] for t in (await bob.client.get("/api/v1/me/tokens")).json()["tokens"]] == [
        bobs["id"]
    ]


async def test_only_a_session_manages_tokens(anon: httpx.AsyncClient, alice: Person) -> None:
    made = await make_token(alice, "script")
    auth = bearer(made["token"])
    attempts = [
        anon.post("/api/v1/me/tokens", json={"name": "minted by a token"}, headers=auth),
        anon.get("/api/v1/me/tokens", headers=auth),
        anon.delete(f"/api/v1/me/tokens/{made['id']}", headers=auth),
    ]
    for attempt in attempts:
        r = await attempt
        assert r.status_code == 403 and error(r)["code"] == "session_required"
    listed = (await alice.client.get("/api/v1/me/tokens")).json()["tokens"]
    assert [t["name"] for t in listed] == ["script"]  # nothing minted, nothing revoked
    assert (await anon.get("/api/v1/me/tokens")).status_code == 401


async def test_tokens_outlive_the_session_that_made_them(
    anon: httpx.AsyncClient, alice: Person
) -> None:
    """Decided: a token is its own credential (a script's), listed and revoked by hand; signing
    out of the browser does not end it."""
    made = await make_token(alice, "cron job")
    assert (await alice.client.post("/api/v1/auth/logout")).status_code == 204
    assert (await alice.client.get("/api/v1/me")).status_code == 401
    assert (await anon.get("/api/v1/me", headers=bearer(made["token"]))).status_code == 200


async def test_token_list_pages(alice: Person) -> None:
    made = [await make_token(alice, f"t{i}") for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await alice.client.get("/api/v1/me/tokens", params=params)).json()
        assert len(page["tokens"]) <= 2
        seen += [t["id"] for t in page["tokens"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(t["id"] for t in made) and len(seen) == 5
    r = await alice.client.get("/api/v1/me/tokens", params={"cursor": "not-ours"})
    assert r.status_code == 422 and error(r)["field"] == "cursor"


def test_a_token_use_is_due_for_writing_once_a_minute_per_process() -> None:
    now = [1000.0]
    cache = PrincipalCache(ttl=2.0, max_entries=2, monotonic=lambda: now[0])
    assert cache.due_for_use_write("t:a")
    assert not cache.due_for_use_write("t:a")
    now[0] += 59.9
    assert not cache.due_for_use_write("t:a") and cache.due_for_use_write("t:b")
    now[0] += 0.1
    assert cache.due_for_use_write("t:a")
    assert cache.due_for_use_write("t:c")  # bounded: the oldest mark makes room
    assert len(cache._use_marks) <= 2


async def test_a_token_used_by_many_requests_at_once_on_two_nodes_is_recorded(
    app: FastAPI, settings: Any, anon: httpx.AsyncClient, alice: Person
) -> None:
    """Forty simultaneous requests with one fresh token, half on another node: every one is
    answered (no 5xx from the last-use writes racing beside them), and the use is recorded."""
    made = await make_token(alice, "busy script")
    async with another_node(settings) as (other, on_b):
        answers = await asyncio.gather(
            *(
                (anon if n % 2 else on_b).get("/api/v1/me", headers=bearer(made["token"]))
                for n in range(40)
            )
        )
        assert [r.status_code for r in answers] == [200] * 40
        await other.state.ctx.principals.settled()
    await app.state.ctx.principals.settled()
    [used] = (await alice.client.get("/api/v1/me/tokens")).json()["tokens"]
    assert used["last_used_at"] is not None
