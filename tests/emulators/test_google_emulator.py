"""The Google emulator, driven by Google's own client library and by plain HTTP.

Keeps `parlay_emulators.google` faithful to Google's documented API: the calendar part is
exercised through `google-api-python-client` (static discovery document, root URL overridden)
and `google-auth` credentials; the OAuth flow with PKCE through httpx.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Iterator
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from parlay_emulators.google import create_app
from tests.emulator_servers import serve_asgi

googleapiclient = pytest.importorskip("googleapiclient.discovery")
from google.oauth2.credentials import Credentials  # noqa: E402
from googleapiclient.errors import HttpError  # noqa: E402

CLIENT_ID = "parlay-test.apps.googleusercontent.com"
CLIENT_SECRET = "emulator-secret"
REDIRECT = "http://127.0.0.1:9/oauth/google/callback"
SCOPES = "openid email https://www.googleapis.com/auth/calendar"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve_asgi(create_app()) as url:
        yield url


@pytest.fixture
def emu(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server) as client:
        client.post("/_emulator/reset").raise_for_status()
        client.post(
            "/_emulator/clients",
            json={
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [REDIRECT],
            },
        ).raise_for_status()
        client.post("/_emulator/accounts", json={"email": "alice@example.com", "name": "Alice"})
        client.post("/_emulator/accounts", json={"email": "bob@example.com"})
        yield client


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    return verifier, challenge.decode()


def _consent(emu: httpx.Client, decision: str, scope: str = SCOPES, **extra: str) -> dict[str, str]:
    """Open the consent page, press a button; the query of the redirect back."""
    params = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": scope,
        "access_type": "offline",
        "state": "st-123",
        **extra,
    }
    page = emu.get("/o/oauth2/v2/auth", params=params)
    assert page.status_code == 200
    assert "Allow" in page.text and "Deny" in page.text and "alice@example.com" in page.text
    form = {
        unescape(name): unescape(value)
        for name, value in re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text)
    }
    answer = emu.post(
        "/o/oauth2/v2/auth", data=form | {"account": "alice@example.com", "decision": decision}
    )
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _tokens(emu: httpx.Client, scope: str = SCOPES) -> dict[str, str]:
    verifier, challenge = _pkce()
    query = _consent(emu, "allow", scope, code_challenge=challenge, code_challenge_method="S256")
    reply = emu.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": REDIRECT,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "code_verifier": verifier,
        },
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def _service(server: str, credentials: Credentials):  # type: ignore[no-untyped-def]
    return googleapiclient.build(
        "calendar",
        "v3",
        credentials=credentials,
        static_discovery=True,
        client_options={"api_endpoint": f"{server}/calendar/v3/"},
        cache_discovery=False,
    )


def _error(exc: HttpError) -> dict:  # type: ignore[type-arg]
    return json.loads(exc.content)["error"]


# -- OAuth ----------------------------------------------------------------------------------
def test_oauth_code_flow_with_pkce_refresh_and_revocation(emu: httpx.Client) -> None:
    verifier, challenge = _pkce()
    query = _consent(emu, "allow", code_challenge=challenge, code_challenge_method="S256")
    assert query["state"] == "st-123" and query["scope"] == SCOPES
    exchange = {
        "grant_type": "authorization_code",
        "code": query["code"],
        "redirect_uri": REDIRECT,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    wrong = emu.post("/token", data=exchange | {"code_verifier": "not-the-verifier-" + "x" * 30})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    missing = emu.post("/token", data=exchange)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_grant"

    tokens = emu.post("/token", data=exchange | {"code_verifier": verifier}).json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 3000
    assert tokens["refresh_token"] and tokens["id_token"].count(".") == 2
    reused = emu.post("/token", data=exchange | {"code_verifier": verifier})
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"

    me = emu.get("/v1/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == "alice@example.com" and me.json()["email_verified"] is True
    assert me.json()["sub"]

    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    renewed = emu.post("/token", data=refresh)
    assert renewed.status_code == 200
    assert renewed.json()["access_token"] != tokens["access_token"]
    assert "refresh_token" not in renewed.json()  # Google keeps the refresh token as it is

    assert emu.post("/revoke", params={"token": tokens["refresh_token"]}).status_code == 200
    dead = emu.post("/token", data=refresh)
    assert dead.status_code == 400
    assert dead.json() == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }
    listing = emu.get(
        "/calendar/v3/users/me/calendarList",
        headers={"Authorization": f"Bearer {renewed.json()['access_token']}"},
    )
    assert listing.status_code == 401
    assert listing.json()["error"]["errors"][0]["reason"] == "authError"


def test_deny_and_refresh_token_only_on_first_consent(emu: httpx.Client) -> None:
    denied = _consent(emu, "deny")
    assert denied == {"error": "access_denied", "state": "st-123"}
    assert "refresh_token" in _tokens(emu)
    assert "refresh_token" not in _tokens(emu)  # consent already given, as at Google
    again = _consent(emu, "allow", prompt="consent")
    assert again["code"]


def test_control_revocation_and_expiry_of_access_tokens(emu: httpx.Client) -> None:
    tokens = _tokens(emu)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert emu.get("/calendar/v3/users/me/calendarList", headers=bearer).status_code == 200
    emu.post("/_emulator/clock", json={"advance_seconds": 3600}).raise_for_status()
    expired = emu.get("/calendar/v3/users/me/calendarList", headers=bearer)
    assert expired.status_code == 401
    assert expired.json()["error"]["status"] == "UNAUTHENTICATED"
    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    assert emu.post("/token", data=refresh).status_code == 200
    revoked = emu.post("/_emulator/revoke", json={"account": "alice@example.com"})
    assert revoked.json()["revoked"] >= 1
    assert emu.post("/token", data=refresh).json()["error"] == "invalid_grant"


# -- Calendar through Google's client ---------------------------------------------------------
def test_google_client_library_drives_the_calendar(emu: httpx.Client, server: str) -> None:
    tokens = _tokens(emu)
    # An already expired access token: google-auth refreshes it at the emulator's token_uri.
    creds = Credentials(
        token="stale-token",
        refresh_token=tokens["refresh_token"],
        token_uri=f"{server}/token",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    cal = _service(server, creds)

    entries = cal.calendarList().list().execute()["items"]
    primary = [e for e in entries if e.get("primary")]
    assert [e["id"] for e in primary] == ["alice@example.com"]
    assert primary[0]["accessRole"] == "owner"

    event_id = "b00c" + "0123456789abcdef" * 2  # base32hex: [a-v0-9]
    body = {
        "id": event_id,
        "summary": "Intro call",
        "location": "https://parlay.example/m/abc",
        "start": {"dateTime": "2030-03-04T15:00:00Z", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2030-03-04T15:30:00Z", "timeZone": "Europe/Berlin"},
        "attendees": [{"email": "guest@example.com"}],
        "extendedProperties": {"private": {"parlayMeeting": "m1"}},
    }
    created = cal.events().insert(calendarId="primary", body=body, sendUpdates="none").execute()
    assert created["id"] == event_id and created["status"] == "confirmed"
    assert created["iCalUID"] == f"{event_id}@google.com"
    assert created["attendees"][0]["responseStatus"] == "needsAction"
    with pytest.raises(HttpError) as dup:
        cal.events().insert(calendarId="primary", body=body).execute()
    assert dup.value.resp.status == 409
    assert _error(dup.value)["errors"][0]["reason"] == "duplicate"

    full = cal.events().list(calendarId="primary").execute()
    assert [e["id"] for e in full["items"]] == [event_id]
    assert "nextSyncToken" in full and "nextPageToken" not in full

    moved = (
        cal.events()
        .patch(
            calendarId="primary",
            eventId=event_id,
            body={
                "start": {"dateTime": "2030-03-05T09:00:00Z"},
                "end": {"dateTime": "2030-03-05T10:00:00Z"},
            },
            sendUpdates="none",
        )
        .execute()
    )
    assert moved["summary"] == "Intro call" and moved["sequence"] == 1
    assert moved["etag"] != created["etag"]
    got = cal.events().get(calendarId="primary", eventId=event_id).execute()
    assert got["start"]["dateTime"] == "2030-03-05T09:00:00Z"

    changes = cal.events().list(calendarId="primary", syncToken=full["nextSyncToken"]).execute()
    assert [e["id"] for e in changes["items"]] == [event_id]
    quiet = cal.events().list(calendarId="primary", syncToken=changes["nextSyncToken"]).execute()
    assert quiet["items"] == []

    busy = (
        cal.freebusy()
        .query(
            body={
                "timeMin": "2030-03-05T00:00:00Z",
                "timeMax": "2030-03-06T00:00:00Z",
                "items": [{"id": "primary"}, {"id": "nobody@example.com"}],
            }
        )
        .execute()
    )
    assert busy["kind"] == "calendar#freeBusy"
    assert busy["calendars"]["primary"]["busy"] == [
        {"start": "2030-03-05T09:00:00Z", "end": "2030-03-05T10:00:00Z"}
    ]
    assert busy["calendars"]["nobody@example.com"]["errors"][0]["reason"] == "notFound"

    cal.events().delete(calendarId="primary", eventId=event_id, sendUpdates="none").execute()
    assert cal.events().get(calendarId="primary", eventId=event_id).execute()["status"] == (
        "cancelled"
    )
    with pytest.raises(HttpError) as gone:
        cal.events().delete(calendarId="primary", eventId=event_id).execute()
    assert gone.value.resp.status == 410
    assert _error(gone.value)["errors"][0]["reason"] == "deleted"
    with pytest.raises(HttpError) as missing:
        cal.events().get(calendarId="primary", eventId="nosuchevent1").execute()
    assert missing.value.resp.status == 404
    assert _error(missing.value)["status"] == "NOT_FOUND"

    deletion = cal.events().list(calendarId="primary", syncToken=quiet["nextSyncToken"]).execute()
    assert [(e["id"], e["status"]) for e in deletion["items"]] == [(event_id, "cancelled")]
    assert cal.events().list(calendarId="primary").execute()["items"] == []
    shown = cal.events().list(calendarId="primary", showDeleted=True).execute()["items"]
    assert [e["status"] for e in shown] == ["cancelled"]

    emu.post("/_emulator/calendars/alice@example.com/invalidate-sync-tokens").raise_for_status()
    with pytest.raises(HttpError) as stale:
        cal.events().list(calendarId="primary", syncToken=deletion["nextSyncToken"]).execute()
    assert stale.value.resp.status == 410
    assert _error(stale.value)["errors"][0]["reason"] == "fullSyncRequired"

    log = emu.get("/_emulator/requests").json()["requests"]
    inserts = [r for r in log if r["operation"] == "calendar.events.insert"]
    assert inserts[0]["query"]["sendUpdates"] == "none"


def test_weekly_recurrence_expanded_ordered_and_paged(emu: httpx.Client, server: str) -> None:
    emu.post(
        "/_emulator/calendars/alice@example.com/events",
        json={
            "summary": "Standup",
            "start": {"dateTime": "2030-01-07T09:00:00", "timeZone": "Europe/London"},
            "end": {"dateTime": "2030-01-07T09:15:00", "timeZone": "Europe/London"},
            "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6"],
        },
    ).raise_for_status()
    emu.post(
        "/_emulator/calendars/alice@example.com/events",
        json={
            "summary": "Lunch",
            "start": {"dateTime": "2030-01-08T12:00:00Z"},
            "end": {"dateTime": "2030-01-08T13:00:00Z"},
            "transparency": "transparent",
        },
    ).raise_for_status()
    cal = _service(server, Credentials(token=_tokens(emu)["access_token"]))
    query = {
        "calendarId": "primary",
        "singleEvents": True,
        "orderBy": "startTime",
        "timeMin": "2030-01-07T00:00:00Z",
        "timeMax": "2030-01-15T00:00:00Z",
        "maxResults": 2,
    }
    first = cal.events().list(**query).execute()
    assert "nextSyncToken" not in first
    second = cal.events().list(**query, pageToken=first["nextPageToken"]).execute()
    starts = [(e["summary"], e["start"]["dateTime"]) for e in first["items"] + second["items"]]
    assert starts == [
        ("Standup", "2030-01-07T09:00:00+00:00"),
        ("Lunch", "2030-01-08T12:00:00Z"),
        ("Standup", "2030-01-09T09:00:00+00:00"),
        ("Standup", "2030-01-14T09:00:00+00:00"),
    ]
    assert "nextSyncToken" in second
    instance = first["items"][0]
    assert instance["id"] == f"{instance['recurringEventId']}_20300107T090000Z"
    with pytest.raises(HttpError) as unordered:
        cal.events().list(calendarId="primary", orderBy="startTime").execute()
    assert unordered.value.resp.status == 400

    busy = (
        cal.freebusy()
        .query(
            body={
                "timeMin": "2030-01-07T00:00:00Z",
                "timeMax": "2030-01-10T00:00:00Z",
                "items": [{"id": "alice@example.com"}],
            }
        )
        .execute()
    )
    # Two standups; the transparent lunch is not busy.
    assert busy["calendars"]["alice@example.com"]["busy"] == [
        {"start": "2030-01-07T09:00:00Z", "end": "2030-01-07T09:15:00Z"},
        {"start": "2030-01-09T09:00:00Z", "end": "2030-01-09T09:15:00Z"},
    ]


# -- Errors ---------------------------------------------------------------------------------
def test_injected_faults_use_googles_error_envelope(emu: httpx.Client) -> None:
    bearer = {"Authorization": f"Bearer {_tokens(emu)['access_token']}"}
    url = "/calendar/v3/calendars/primary/events"
    event = {
        "id": "abcdef012345",
        "start": {"dateTime": "2030-05-01T10:00:00Z"},
        "end": {"dateTime": "2030-05-01T11:00:00Z"},
    }
    emu.post(
        "/_emulator/faults",
        json={"operation": "calendar.events.insert", "status": 429, "count": 1, "retry_after": 7},
    ).raise_for_status()
    limited = emu.post(url, json=event, headers=bearer)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "7"
    error = limited.json()["error"]
    assert error["code"] == 429 and error["status"] == "RESOURCE_EXHAUSTED"
    assert error["errors"][0] == {
        "domain": "usageLimits",
        "reason": "rateLimitExceeded",
        "message": "Rate Limit Exceeded",
    }
    emu.post("/_emulator/faults", json={"operation": "calendar.events.insert", "status": 403})
    forbidden = emu.post(url, json=event, headers=bearer).json()["error"]
    assert forbidden["code"] == 403 and forbidden["errors"][0]["reason"] == "rateLimitExceeded"
    # A lost response: the event is stored, the caller sees 503; its retry gets 409 duplicate.
    emu.post(
        "/_emulator/faults",
        json={"operation": "calendar.events.insert", "status": 503, "after": True},
    )
    lost = emu.post(url, json=event, headers=bearer)
    assert lost.status_code == 503
    assert lost.json()["error"]["errors"][0]["reason"] == "backendError"
    retry = emu.post(url, json=event, headers=bearer)
    assert retry.status_code == 409
    assert retry.json()["error"]["errors"][0]["reason"] == "duplicate"
    assert emu.post(url, json=event | {"id": "abcdef012346"}, headers=bearer).status_code == 200
    stored = emu.get("/_emulator/calendars/alice@example.com/events").json()["items"]
    assert sorted(e["id"] for e in stored) == ["abcdef012345", "abcdef012346"]

    emu.post("/_emulator/faults", json={"operation": "oauth.token", "status": 500})
    assert emu.post("/token", data={"grant_type": "refresh_token"}).status_code == 500

    empty = emu.post(
        "/calendar/v3/freeBusy",
        json={"timeMin": "2030-01-02T00:00:00Z", "timeMax": "2030-01-01T00:00:00Z", "items": []},
        headers=bearer,
    )
    assert empty.status_code == 400
    assert empty.json()["error"]["errors"][0]["reason"] == "timeRangeEmpty"
    bad_id = emu.post(url, json=event | {"id": "UPPER_CASE"}, headers=bearer)
    assert bad_id.status_code == 400


def test_scopes_are_enforced(emu: httpx.Client) -> None:
    narrow = _tokens(emu, "openid email https://www.googleapis.com/auth/calendar.events")
    bearer = {"Authorization": f"Bearer {narrow['access_token']}"}
    listing = emu.get("/calendar/v3/users/me/calendarList", headers=bearer)
    assert listing.status_code == 403
    assert listing.json()["error"]["errors"][0]["reason"] == "insufficientPermissions"
    assert emu.get("/calendar/v3/calendars/primary/events", headers=bearer).status_code == 200
