"""Settings: login sessions listed and revoked by an opaque id (a revoked session ends like a
logout), the 12/24-hour clock stored on the user, canonical zone names accepted (both
backends)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import PASSWORD, Person


def error(r: httpx.Response) -> dict[str, Any]:
    body = r.json()
    assert set(body) == {"error"}, body
    return dict(body["error"])


async def second_login(app: Any, person: Person) -> httpx.AsyncClient:
    """Another browser of the same person: its own session cookie and CSRF header."""
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    r = await client.post("/api/v1/auth/login", json={"email": person.email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return client


async def test_sessions_are_listed_by_an_opaque_id_with_the_current_one_marked(
    app: Any, alice: Person
) -> None:
    other = await second_login(app, alice)
    try:
        r = await alice.client.get("/api/v1/me/sessions")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["next_cursor"] is None
        sessions = body["sessions"]
        assert len(sessions) == 2
        for s in sessions:
            assert set(s) == {"id", "created_at", "expires_at", "current"}
        assert [s["current"] for s in sessions].count(True) == 1
        # Never the cookie token or anything derived from it.
        for cookie in (
            alice.client.cookies.get("parlay_session"),
            other.cookies.get("parlay_session"),
        ):
            if cookie:
                assert cookie not in r.text
        theirs = (await other.get("/api/v1/me/sessions")).json()["sessions"]
        assert {s["id"] for s in theirs} == {s["id"] for s in sessions}
        mine = next(s["id"] for s in sessions if s["current"])
        assert next(s["id"] for s in theirs if s["current"]) != mine
    finally:
        await other.aclose()


async def test_revoking_another_session_signs_that_browser_out(app: Any, alice: Person) -> None:
    other = await second_login(app, alice)
    try:
        assert (await other.get("/api/v1/me")).status_code == 200  # now cached on this node
        sessions = (await alice.client.get("/api/v1/me/sessions")).json()["sessions"]
        target = next(s["id"] for s in sessions if not s["current"])

        r = await alice.client.delete(f"/api/v1/me/sessions/{target}")
        assert r.status_code == 204, r.text

        r = await other.get("/api/v1/me")
        assert r.status_code == 401 and error(r)["code"] == "unauthenticated"
        assert (await alice.client.get("/api/v1/me")).status_code == 200
        left = (await alice.client.get("/api/v1/me/sessions")).json()["sessions"]
        assert [s["current"] for s in left] == [True]
        r = await alice.client.delete(f"/api/v1/me/sessions/{target}")
        assert r.status_code == 404 and error(r)["code"] == "not_found"
    finally:
        await other.aclose()


async def test_revoking_the_current_session_signs_out(alice: Person) -> None:
    [current] = (await alice.client.get("/api/v1/me/sessions")).json()["sessions"]
    r = await alice.client.delete(f"/api/v1/me/sessions/{current['id']}")
    assert r.status_code == 204, r.text
    assert "parlay_session" in r.headers.get("set-cookie", "")  # the cookie is cleared
    alice.client.cookies.clear()
    r = await alice.client.get("/api/v1/me")
    assert r.status_code == 401 and error(r)["code"] == "unauthenticated"


async def test_someone_elses_or_an_unknown_session_is_not_found(alice: Person, bob: Person) -> None:
    [bobs] = (await bob.client.get("/api/v1/me/sessions")).json()["sessions"]
    for session_id in (bobs["id"], "00000000-0000-0000-0000-000000000000", "x" * 300):
        r = await alice.client.delete(f"/api/v1/me/sessions/{session_id}")
        assert r.status_code == 404 and error(r)["code"] == "not_found"
    assert (await bob.client.get("/api/v1/me")).status_code == 200
    ids = [s["id"] for s in (await alice.client.get("/api/v1/me/sessions")).json()["sessions"]]
    assert bobs["id"] not in ids


async def test_only_a_session_manages_sessions(anon: httpx.AsyncClient, alice: Person) -> None:
    made = (await alice.client.post("/api/v1/me/tokens", json={"name": "script"})).json()
    auth = {"Authorization": f"Bearer {made['token']}"}
    [current] = (await alice.client.get("/api/v1/me/sessions")).json()["sessions"]
    for r in (
        await anon.get("/api/v1/me/sessions", headers=auth),
        await anon.delete(f"/api/v1/me/sessions/{current['id']}", headers=auth),
    ):
        assert r.status_code == 403 and error(r)["code"] == "session_required"
    assert (await alice.client.get("/api/v1/me")).status_code == 200
    assert (await anon.get("/api/v1/me/sessions")).status_code == 401


async def test_time_format_is_stored_and_validated(alice: Person) -> None:
    me = (await alice.client.get("/api/v1/me")).json()
    assert me["time_format"] == "auto"
    r = await alice.client.patch("/api/v1/me", json={"time_format": "12h"})
    assert r.status_code == 200, r.text
    assert r.json()["time_format"] == "12h"
    assert (await alice.client.get("/api/v1/me")).json()["time_format"] == "12h"

    for bad in ("12", "AM/PM", "", None, 12):
        r = await alice.client.patch("/api/v1/me", json={"time_format": bad})
        if bad is None:  # null means "leave it": nothing changes
            assert r.status_code == 200 and r.json()["time_format"] == "12h"
            continue
        assert r.status_code == 422, (bad, r.text)
        assert error(r)["field"] == "time_format"
    assert (await alice.client.get("/api/v1/me")).json()["time_format"] == "12h"


async def test_profile_accepts_what_the_zone_picker_saves(alice: Person) -> None:
    r = await alice.client.patch(
        "/api/v1/me", json={"display_name": "Alice A.", "time_zone": "Asia/Kolkata"}
    )
    assert r.status_code == 200, r.text
    me = (await alice.client.get("/api/v1/me")).json()
    assert (me["display_name"], me["time_zone"]) == ("Alice A.", "Asia/Kolkata")
    r = await alice.client.patch("/api/v1/me", json={"time_zone": "Mars/Olympus_Mons"})
    assert r.status_code == 422 and error(r)["field"] == "time_zone"
