"""Linking Google through OAuth (issue 9; API.md "Calendars": connect, callback, rule 4).

The app's real OAuth client and Google adapter talk HTTP to the Google emulator; the browser's
part (the consent page, following redirects) is played with httpx.  The contract under test:
authorization code with ``state`` and PKCE S256, offline access; the callback links only in
the browser session that started it, once; refusals land back with a reason; tokens are
encrypted at rest, refreshed before they expire, and a revoked grant turns into
``needs_reauth`` told live while bookings go on.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select, update

from parlay.db.calendar_models import BusyBlock, CalendarConnection, OAuthState
from parlay.db.models import Event
from parlay.settings import Settings
from parlay_emulators.google import create_app
from tests.conftest import Person, sign_up_and_in
from tests.emulator_servers import serve_asgi
from tests.web.test_scheduling import NOW

CLIENT_ID = "parlay-test.apps.googleusercontent.com"
CLIENT_SECRET = "emulator-secret"
BASE = "http://testserver"
CALLBACK = f"{BASE}/oauth/google/callback"


@pytest.fixture(scope="module")
def google_server() -> Iterator[str]:
    with serve_asgi(create_app()) as url:
        yield url


@pytest.fixture
async def google(google_server: str) -> AsyncIterator[httpx.AsyncClient]:
    """The emulator, reset, with our OAuth client and Alice's account (a busy event on
    2026-12-01 15:00-17:00 UTC in her primary calendar)."""
    async with httpx.AsyncClient(base_url=google_server) as emu:
        (await emu.post("/_emulator/reset")).raise_for_status()
        (
            await emu.post(
                "/_emulator/clients",
                json={
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "redirect_uris": [CALLBACK],
                },
            )
        ).raise_for_status()
        (
            await emu.post("/_emulator/accounts", json={"email": "alice@gmail.test"})
        ).raise_for_status()
        (
            await emu.post(
                "/_emulator/calendars/alice@gmail.test/events",
                json={
                    "summary": "Dentist",
                    "start": {"dateTime": "2026-12-01T15:00:00Z"},
                    "end": {"dateTime": "2026-12-01T17:00:00Z"},
                },
            )
        ).raise_for_status()
        yield emu


@pytest.fixture
def settings(make_settings: Any, google_server: str) -> Settings:
    return make_settings(
        now=NOW,
        base_url=BASE,
        google_client_id=CLIENT_ID,
        google_client_secret=CLIENT_SECRET,
        google_auth_url=f"{google_server}/o/oauth2/v2/auth",
        google_token_url=f"{google_server}/token",
        google_api_url=google_server,
        google_userinfo_url=f"{google_server}/v1/userinfo",
    )


async def connect(person: Person, return_to: str | None = "/rooms/r1?tab=x") -> str:
    body = {} if return_to is None else {"return_to": return_to}
    r = await person.client.post("/api/v1/calendars/google/connect", json=body)
    assert r.status_code == 200, r.text
    return str(r.json()["authorize_url"])


async def consent(emu: httpx.AsyncClient, authorize_url: str, decision: str = "allow") -> str:
    """The user at Google's consent page: pick the account, press Allow or Deny.  Returns the
    path and query the browser is sent back to (on our site)."""
    page = await emu.get(authorize_url)
    assert page.status_code == 200, page.text
    form = {
        unescape(name): unescape(value)
        for name, value in re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text)
    }
    answer = await emu.post(
        urlsplit(authorize_url).path,
        data=form | {"account": "alice@gmail.test", "decision": decision},
    )
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(CALLBACK + "?")
    return location.removeprefix(BASE)


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def link(person: Person, emu: httpx.AsyncClient) -> dict[str, Any]:
    back = await consent(emu, await connect(person))
    r = await person.client.get(back)
    assert r.status_code == 303, r.text
    assert query_of(r.headers["location"])["calendar"] == "linked"
    listed = await person.client.get("/api/v1/calendars")
    return dict(listed.json()["calendars"][0])


async def test_connect_asks_for_code_with_pkce_state_and_offline_access(
    alice: Person, google: httpx.AsyncClient
) -> None:
    url = await connect(alice)
    parts = urlsplit(url)
    params = query_of(url)
    assert parts.path == "/o/oauth2/v2/auth"
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == CALLBACK
    assert params["response_type"] == "code"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43  # base64url of a SHA-256 digest
    assert len(params["state"]) >= 32
    assert params["access_type"] == "offline"
    assert {"openid", "email", "https://www.googleapis.com/auth/calendar"} <= set(
        params["scope"].split()
    )
    assert params["state"] != query_of(await connect(alice))["state"]


async def test_linking_google_takes_busy_times_and_stores_tokens_sealed(
    app: Any, alice: Person, google: httpx.AsyncClient
) -> None:
    back = await consent(google, await connect(alice, "/rooms/r1?tab=x"))
    r = await alice.client.get(back)
    assert r.status_code == 303
    location = r.headers["location"]
    assert urlsplit(location).path == "/rooms/r1"
    assert query_of(location) == {"tab": "x", "calendar": "linked"}

    listed = (await alice.client.get("/api/v1/calendars")).json()["calendars"]
    assert len(listed) == 1
    connection = listed[0]
    assert connection["provider"] == "google"
    assert connection["account_email"] == "alice@gmail.test"
    assert connection["status"] == "active"
    assert connection["last_synced_at"] is not None
    primary = next(c for c in connection["calendars"] if c["primary"])
    assert primary["external_id"] == "alice@gmail.test"
    assert primary["check_conflicts"] and primary["write_events"]

    db = app.state.ctx.db
    async with db.read() as session:
        row = (await session.execute(select(CalendarConnection))).scalar_one()
        blocks = (await session.execute(select(BusyBlock))).scalars().all()
    tokens = app.state.container.calendars.unseal(row.secret)
    assert tokens.access_token and tokens.refresh_token and tokens.expires_at
    assert tokens.access_token not in row.secret and tokens.refresh_token not in row.secret
    assert [(b.start.hour, b.end.hour) for b in blocks] == [(15, 17)]


async def test_the_callback_links_only_once_and_only_in_the_session_that_started_it(
    app: Any, alice: Person, google: httpx.AsyncClient
) -> None:
    back = await consent(google, await connect(alice))
    mallory = await sign_up_and_in(app, "mallory", email="mallory@example.com")
    try:
        stolen = await mallory.client.get(back)
        assert stolen.status_code == 400
        assert "Nothing was linked" in stolen.text
        assert (await mallory.client.get("/api/v1/calendars")).json()["calendars"] == []
    finally:
        await mallory.client.aclose()
    # The foreign attempt did not spend Alice's request; her own callback links, once.
    assert (await alice.client.get(back)).status_code == 303
    replay = await alice.client.get(back)
    assert replay.status_code == 400
    assert len((await alice.client.get("/api/v1/calendars")).json()["calendars"]) == 1
    # Signed out, or with no state at all: nothing.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as stranger:
        assert (await stranger.get(back)).status_code == 400
    assert (await alice.client.get("/oauth/google/callback?code=x")).status_code == 400


async def test_an_expired_request_links_nothing(
    app: Any, alice: Person, google: httpx.AsyncClient
) -> None:
    back = await consent(google, await connect(alice))
    async with app.state.ctx.db.write() as session:
        await session.execute(
            update(OAuthState).values(created_at=datetime.now(UTC) - timedelta(minutes=16))
        )
    assert (await alice.client.get(back)).status_code == 400
    assert (await alice.client.get("/api/v1/calendars")).json()["calendars"] == []


async def test_deny_at_the_consent_page_comes_back_with_the_reason(
    alice: Person, google: httpx.AsyncClient
) -> None:
    back = await consent(google, await connect(alice, "/settings"), decision="deny")
    r = await alice.client.get(back)
    assert r.status_code == 303
    assert urlsplit(r.headers["location"]).path == "/settings"
    assert query_of(r.headers["location"]) == {"calendar": "error", "reason": "access_denied"}
    assert (await alice.client.get("/api/v1/calendars")).json()["calendars"] == []


async def test_connect_refuses_what_it_cannot_finish(
    app: Any, alice: Person, google: httpx.AsyncClient
) -> None:
    r = await alice.client.post("/api/v1/calendars/microsoft/connect", json={})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "provider_not_configured"
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil", "rooms"):
        r = await alice.client.post("/api/v1/calendars/google/connect", json={"return_to": target})
        assert r.status_code == 422, target
        assert r.json()["error"]["field"] == "return_to"
    # A personal access token cannot start a flow whose callback only a browser can finish.
    r = await alice.client.post("/api/v1/me/tokens", json={"name": "cli"})
    assert r.status_code == 201, r.text
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {r.json()['token']}"},
    ) as cli:
        r = await cli.post("/api/v1/calendars/google/connect", json={})
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "session_required"
        offered = (await cli.get("/api/v1/calendars/providers")).json()["providers"]
    assert [(p["key"], p["kind"]) for p in offered] == [("google", "oauth"), ("caldav", "password")]


async def test_tokens_refresh_before_they_expire_and_a_revoked_grant_asks_to_reconnect(
    app: Any, alice: Person, google: httpx.AsyncClient
) -> None:
    connection = await link(alice, google)
    calendars = app.state.container.calendars
    # An hour later the access token has expired: the next sync refreshes it first.
    (await google.post("/_emulator/clock", json={"advance_seconds": 3700})).raise_for_status()
    await calendars.sync(connection["id"])
    calls = [c["operation"] for c in (await google.get("/_emulator/requests")).json()["requests"]]
    assert "oauth.token" in calls[calls.index("oauth.userinfo") + 1 :]
    listed = (await alice.client.get("/api/v1/calendars")).json()["calendars"][0]
    assert listed["status"] == "active"

    # The user revokes Parlay at Google: the next sync marks the connection, live.
    revoked = await google.post("/_emulator/revoke", json={"account": "alice@gmail.test"})
    revoked.raise_for_status()
    await calendars.sync(connection["id"])
    listed = (await alice.client.get("/api/v1/calendars")).json()["calendars"][0]
    assert listed["status"] == "needs_reauth"
    async with app.state.ctx.db.read() as session:
        told = await session.scalar(
            select(Event.data).where(Event.type == "calendar.status").order_by(Event.id.desc())
        )
    assert told == {
        "id": connection["id"],
        "status": "needs_reauth",
        "status_detail": "auth_expired",
    }
    notes = (await alice.client.get("/api/v1/notifications")).json()["notifications"]
    assert [n["kind"] for n in notes] == ["calendar.needs_reauth"]
    assert "alice@gmail.test" in notes[0]["title"] + notes[0]["body"]

    # Reconnecting the same account restores that connection in place.
    again = await link(alice, google)
    assert again["id"] == connection["id"] and again["status"] == "active"
