"""Rooms and messages over HTTP (both backends)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Person


async def test_room_creation_validates_members(alice: Person, bob: Person) -> None:
    r = await alice.client.post(
        "/api/v1/rooms", json={"title": "Team", "member_emails": [bob.email, "ghost@example.com"]}
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "unknown_user"
    assert r.json()["error"]["field"] == "member_emails"
    assert (await alice.client.get("/api/v1/rooms")).json() == {"rooms": [], "next_cursor": None}


async def test_room_read_and_members(room: dict[str, Any], alice: Person, bob: Person) -> None:
    assert {m["display_name"] for m in room["members"]} == {"Alice Adams", "Bob Brown"}
    r = await bob.client.get(f"/api/v1/rooms/{room['id']}")
    assert r.status_code == 200 and r.json()["title"] == "Alice & Bob"


async def test_non_members_get_404_everywhere(room: dict[str, Any], carol: Person) -> None:
    rid = room["id"]
    for method, path, body in [
        ("GET", f"/api/v1/rooms/{rid}", None),
        ("GET", f"/api/v1/rooms/{rid}/messages", None),
        ("POST", f"/api/v1/rooms/{rid}/messages", {"body": "let me in"}),
        ("POST", f"/api/v1/rooms/{rid}/members", {"email": carol.email}),
    ]:
        r = await carol.client.request(method, path, json=body)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["error"]["code"] == "not_found"
    unknown = await carol.client.get("/api/v1/rooms/00000000-0000-0000-0000-000000000000")
    assert unknown.status_code == 404 and unknown.json() == r.json()


async def test_add_member_shares_history(
    room: dict[str, Any], alice: Person, carol: Person
) -> None:
    rid = room["id"]
    await alice.client.post(f"/api/v1/rooms/{rid}/messages", json={"body": "before carol"})
    r = await alice.client.post(f"/api/v1/rooms/{rid}/members", json={"email": carol.email})
    assert r.status_code == 201 and len(r.json()["members"]) == 3
    again = await alice.client.post(f"/api/v1/rooms/{rid}/members", json={"email": carol.email})
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_member"
    history = (await carol.client.get(f"/api/v1/rooms/{rid}/messages")).json()["messages"]
    assert [m["body"] for m in history if m["kind"] == "text"] == ["before carol"]
    assert history[-1]["kind"] == "system" and "Carol Chen" in history[-1]["body"]


async def test_message_validation(room: dict[str, Any], alice: Person) -> None:
    url = f"/api/v1/rooms/{room['id']}/messages"
    for body in ["", "   \n", "x" * 10_001]:
        r = await alice.client.post(url, json={"body": body})
        assert r.status_code == 422 and r.json()["error"]["field"] == "body"
    r = await alice.client.post(url, json={"body": 42})
    assert r.status_code == 422
    huge = await alice.client.post(
        url,
        content=b'{"body": "' + b"x" * 2_000_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "too_large"
    # The body is read by hand (parlay.web.hand_read): the same answers FastAPI gave.
    for content, headers, code in [
        (b"", {"content-type": "application/json"}, "invalid"),  # no body
        (b'{"body": "hi"', {"content-type": "application/json"}, "invalid_json"),
        (b'{"body": "hi"}', {"content-type": "text/plain"}, "invalid"),  # a form can send that
        (b'{"body": "hi", "extra": 1}', {"content-type": "application/json"}, "invalid"),
        (b'["hi"]', {"content-type": "application/json"}, "invalid"),
    ]:
        r = await alice.client.post(url, content=content, headers=headers)
        assert r.status_code == 422 and r.json()["error"]["code"] == code, (content, r.text)
    r = await alice.client.post(
        url, content=b'{"body": "hi"}', headers={"content-type": "application/vnd.x+json"}
    )
    assert r.status_code == 201, r.text
    texts = [m for m in (await alice.client.get(url)).json()["messages"] if m["kind"] == "text"]
    assert [m["body"] for m in texts] == ["hi"]


async def test_message_is_stored_as_text(room: dict[str, Any], alice: Person, bob: Person) -> None:
    url = f"/api/v1/rooms/{room['id']}/messages"
    evil = "<script>alert(1)</script> & <b>bold</b>"
    r = await alice.client.post(url, json={"body": evil})
    assert r.status_code == 201
    message = r.json()
    assert message["body"] == evil and message["kind"] == "text"
    assert message["sender"] == {"id": alice.id, "display_name": "Alice Adams"}
    seen = (await bob.client.get(url)).json()["messages"][-1]
    assert seen["body"] == evil


async def test_history_pages_newest_first_each_oldest_first(
    room: dict[str, Any], alice: Person
) -> None:
    url = f"/api/v1/rooms/{room['id']}/messages"
    for i in range(5):
        await alice.client.post(url, json={"body": f"m{i}"})
    bodies: list[list[str]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await alice.client.get(url, params=params)).json()
        bodies.append([m["body"] for m in page["messages"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert bodies == [["m3", "m4"], ["m1", "m2"], ["Alice Adams created the room.", "m0"]]
    bad = await alice.client.get(url, params={"cursor": "%%%"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "cursor"
    for limit in (0, 201):
        assert (await alice.client.get(url, params={"limit": limit})).status_code == 422


async def test_rooms_ordered_by_latest_activity(alice: Person, bob: Person) -> None:
    ids = []
    for title in ("first", "second", "third"):
        r = await alice.client.post(
            "/api/v1/rooms", json={"title": title, "member_emails": [bob.email]}
        )
        ids.append(r.json()["id"])
    await bob.client.post(f"/api/v1/rooms/{ids[0]}/messages", json={"body": "bump"})
    titles = [r["title"] for r in (await alice.client.get("/api/v1/rooms")).json()["rooms"]]
    assert titles == ["first", "third", "second"]
    page1 = (await alice.client.get("/api/v1/rooms", params={"limit": 2})).json()
    page2 = (
        await alice.client.get("/api/v1/rooms", params={"limit": 2, "cursor": page1["next_cursor"]})
    ).json()
    assert [r["title"] for r in page1["rooms"] + page2["rooms"]] == titles
    assert page2["next_cursor"] is None


async def test_nul_characters_and_forged_cursors_are_clear_errors(
    room: dict[str, Any], alice: Person
) -> None:
    rid = room["id"]
    r = await alice.client.post(f"/api/v1/rooms/{rid}/messages", json={"body": "a\u0000b"})
    assert r.status_code == 422
    r = await alice.client.get("/api/v1/rooms/a%00b")
    assert r.status_code == 422
    huge = "WzEwMDAwMDAwMDAwMDAwMDAwMDAwMDAwLCAiYSJd"  # [10**22, "a"]
    r = await alice.client.get("/api/v1/rooms", params={"cursor": huge})
    assert r.status_code == 422 and r.json()["error"]["field"] == "cursor"
    r = await alice.client.get(
        f"/api/v1/rooms/{rid}/messages", params={"cursor": "MTAwMDAwMDAwMDAwMDAwMDAwMDAwMDAw"}
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "cursor"
