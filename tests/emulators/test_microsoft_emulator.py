"""The Microsoft identity + Graph emulator, driven over real HTTP as a provider adapter would."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from parlay_emulators.microsoft import PERSONAL_TENANT, WORK_TENANT, create_app
from tests.emulator_servers import serve_asgi

CLIENT = "11111111-2222-3333-4444-555555555555"
REDIRECT = "http://127.0.0.1:9/oauth/microsoft/callback"
SCOPES = "openid profile email offline_access User.Read Calendars.ReadWrite"
WINDOW = {"startDateTime": "2030-03-04T00:00:00Z", "endDateTime": "2030-03-05T00:00:00Z"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve_asgi(create_app()) as url:
        yield url


@pytest.fixture(scope="module")
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        yield client


@pytest.fixture
def http(client: httpx.Client) -> httpx.Client:
    """The emulator, emptied: no accounts, events, tokens or faults."""
    assert client.post("/_emulator/reset").status_code == 204
    return client


def seed_account(http: httpx.Client, email: str = "alice@outlook.com", **extra: object) -> dict:
    reply = http.post(
        "/_emulator/accounts",
        json={"userPrincipalName": email, "displayName": "Alice Adams", **extra},
    )
    assert reply.status_code == 201, reply.text
    return reply.json()


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    )
    return verifier, challenge


def authorize(
    http: httpx.Client,
    challenge: str,
    *,
    scope: str = SCOPES,
    action: str = "accept",
    hint: str | None = None,
) -> dict[str, list[str]]:
    """Opens the authorize URL, answers the consent page, returns the redirect's query."""
    params = {
        "client_id": CLIENT,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": "st-123",
        "nonce": "n-456",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if hint:
        params["login_hint"] = hint
    page = http.get("/common/oauth2/v2.0/authorize", params=params)
    assert page.status_code == 200 and "Accept" in page.text and "Cancel" in page.text
    request_id = re.search(r'name="request" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    account = re.search(r'name="account" value="([^"]+)" checked', page.text).group(1)  # type: ignore[union-attr]
    answer = http.post(
        "/common/oauth2/v2.0/authorize",
        data={"request": request_id, "account": account, "action": action},
    )
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return parse_qs(urlsplit(location).query)


def token(http: httpx.Client, **form: str) -> httpx.Response:
    return http.post("/common/oauth2/v2.0/token", data={"client_id": CLIENT, **form})


def sign_in(http: httpx.Client, scope: str = SCOPES, hint: str | None = None) -> dict:
    verifier, challenge = pkce()
    query = authorize(http, challenge, scope=scope, hint=hint)
    reply = token(
        http,
        grant_type="authorization_code",
        code=query["code"][0],
        redirect_uri=REDIRECT,
        code_verifier=verifier,
        scope=scope,
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def bearer(tokens: dict, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}", **headers}


def assert_graph_error(reply: httpx.Response, status: int, code: str) -> dict:
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    inner = error["innerError"]
    assert {"date", "request-id", "client-request-id"} <= inner.keys()
    assert reply.headers["request-id"] == inner["request-id"]
    return error


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


# --- identity platform ------------------------------------------------------------------------


def test_code_flow_with_pkce_gives_tokens_an_id_token_and_me(http: httpx.Client) -> None:
    account = seed_account(http, mail="alice@outlook.com")
    verifier, challenge = pkce()
    query = authorize(http, challenge)
    assert query["state"] == ["st-123"]
    code = query["code"][0]

    wrong = token(
        http,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier="not-the-verifier",
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"

    reply = token(
        http,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    assert reply.status_code == 200
    body = reply.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0 and body["ext_expires_in"] > 0
    assert body["refresh_token"] and body["access_token"]
    assert (
        "Calendars.ReadWrite" in body["scope"].split()
        and "offline_access" not in body["scope"].split()
    )

    # The id_token is an RS256 JWT signed by the key the discovery document publishes.
    config = http.get("/common/v2.0/.well-known/openid-configuration").json()
    assert config["token_endpoint"].endswith("/common/oauth2/v2.0/token")
    key = http.get(urlsplit(config["jwks_uri"]).path).json()["keys"][0]
    header, claims, signature = body["id_token"].split(".")
    public = rsa.RSAPublicNumbers(
        int.from_bytes(_b64(key["e"]), "big"), int.from_bytes(_b64(key["n"]), "big")
    ).public_key()
    public.verify(
        _b64(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    payload = json.loads(_b64(claims))
    assert (
        payload["tid"] == PERSONAL_TENANT
        and payload["aud"] == CLIENT
        and payload["nonce"] == "n-456"
    )
    assert (
        payload["preferred_username"] == "alice@outlook.com"
        and payload["email"] == "alice@outlook.com"
    )

    # A code is good once.
    again = token(
        http,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    assert again.json()["error"] == "invalid_grant" and again.json()["error_codes"] == [54005]

    me = http.get("/v1.0/me", headers=bearer(body))
    assert me.status_code == 200
    assert {k: me.json()[k] for k in ("id", "mail", "userPrincipalName", "displayName")} == {
        "id": account["id"],
        "mail": "alice@outlook.com",
        "userPrincipalName": "alice@outlook.com",
        "displayName": "Alice Adams",
    }


def test_cancel_on_the_consent_page_answers_access_denied(http: httpx.Client) -> None:
    seed_account(http)
    query = authorize(http, pkce()[1], action="cancel")
    assert (
        query["error"] == ["access_denied"] and query["state"] == ["st-123"] and "code" not in query
    )


def test_login_hint_picks_the_account_and_work_accounts_get_their_tenant(
    http: httpx.Client,
) -> None:
    seed_account(http, "alice@outlook.com")
    seed_account(http, "bob@contoso.com", kind="work")
    tokens = sign_in(http, hint="bob@contoso.com")
    claims = json.loads(_b64(tokens["id_token"].split(".")[1]))
    assert claims["tid"] == WORK_TENANT and claims["preferred_username"] == "bob@contoso.com"


def test_no_offline_access_no_refresh_token(http: httpx.Client) -> None:
    seed_account(http)
    tokens = sign_in(http, scope="User.Read Calendars.Read")
    assert "refresh_token" not in tokens and "id_token" not in tokens
    assert http.get("/v1.0/me/calendars", headers=bearer(tokens)).status_code == 200


def test_refresh_rotates_and_the_old_refresh_token_stops_working(http: httpx.Client) -> None:
    seed_account(http)
    first = sign_in(http)
    second = token(http, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert http.get("/v1.0/me", headers=bearer(rotated)).status_code == 200

    old = token(http, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert old.status_code == 400 and old.json()["error"] == "invalid_grant"
    third = token(http, grant_type="refresh_token", refresh_token=rotated["refresh_token"])
    assert third.status_code == 200


def test_revoked_refresh_token_is_invalid_grant_with_an_aadsts_body(http: httpx.Client) -> None:
    seed_account(http)
    tokens = sign_in(http)
    assert http.post("/_emulator/accounts/alice@outlook.com/revoke").json() == {"revoked": 1}
    reply = token(http, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert reply.status_code == 400
    body = reply.json()
    assert body["error"] == "invalid_grant" and body["error_codes"] == [700082]
    assert body["error_description"].startswith("AADSTS700082:")
    assert {"timestamp", "trace_id", "correlation_id"} <= body.keys()
    # The access token already issued lives on until it expires, unless revoked too.
    assert http.get("/v1.0/me", headers=bearer(tokens)).status_code == 200
    http.post("/_emulator/revoke", json={"account": "alice@outlook.com", "access_tokens": True})
    assert_graph_error(
        http.get("/v1.0/me", headers=bearer(tokens)), 401, "InvalidAuthenticationToken"
    )


def test_registered_confidential_client_must_send_its_secret(http: httpx.Client) -> None:
    seed_account(http)
    http.post(
        "/_emulator/clients",
        json={"client_id": CLIENT, "client_secret": "s3cret", "redirect_uris": [REDIRECT]},
    )
    verifier, challenge = pkce()
    code = authorize(http, challenge)["code"][0]
    bad = token(
        http,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=verifier,
        client_secret="nope",
    )
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    good = token(
        http,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=verifier,
        client_secret="s3cret",
    )
    assert good.status_code == 200


# --- Graph --------------------------------------------------------------------------------------


def test_graph_401_is_invalid_authentication_token_in_the_error_envelope(
    http: httpx.Client,
) -> None:
    error = assert_graph_error(http.get("/v1.0/me"), 401, "InvalidAuthenticationToken")
    assert error["message"] == "Access token is empty."
    reply = http.get(
        "/v1.0/me/calendars",
        headers={"Authorization": "Bearer bogus", "client-request-id": "abc-1"},
    )
    assert_graph_error(reply, 401, "InvalidAuthenticationToken")
    assert reply.json()["error"]["innerError"]["client-request-id"] == "abc-1"
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_access_token_is_401(http: httpx.Client) -> None:
    seed_account(http)
    http.post("/_emulator/config", json={"access_token_seconds": 0})
    tokens = sign_in(http)
    assert tokens["expires_in"] == 0
    assert_graph_error(
        http.get("/v1.0/me", headers=bearer(tokens)), 401, "InvalidAuthenticationToken"
    )


def test_calendars_list_the_default_and_the_others(http: httpx.Client) -> None:
    seed_account(http, calendars=["Work"])
    tokens = sign_in(http)
    reply = http.get("/v1.0/me/calendars", headers=bearer(tokens))
    assert reply.status_code == 200
    calendars = reply.json()["value"]
    assert [(c["name"], c["isDefaultCalendar"]) for c in calendars] == [
        ("Calendar", True),
        ("Work", False),
    ]
    assert all(c["id"] and c["owner"]["address"] == "alice@outlook.com" for c in calendars)
    default = http.get("/v1.0/me/calendar", headers=bearer(tokens)).json()
    assert default["id"] == calendars[0]["id"]


SHOW_AS = ["free", "tentative", "busy", "oof", "workingElsewhere"]


def _seed_day(http: httpx.Client) -> None:
    for hour in range(12):
        body: dict[str, object] = {
            "subject": f"event {hour:02d}",
            "start": {"dateTime": f"2030-03-04T{hour + 6:02d}:00:00", "timeZone": "UTC"},
            "end": {"dateTime": f"2030-03-04T{hour + 6:02d}:30:00", "timeZone": "UTC"},
            "showAs": SHOW_AS[hour % 5],
        }
        if hour == 10:
            body["isCancelled"] = True
        if hour == 11:
            body["responseStatus"] = {"response": "declined", "time": "2030-03-01T10:00:00Z"}
        assert (
            http.post("/_emulator/accounts/alice@outlook.com/events", json=body).status_code == 201
        )
    all_day = {
        "subject": "holiday",
        "isAllDay": True,
        "start": "2030-03-04",
        "end": "2030-03-05",
        "showAs": "oof",
    }
    assert (
        http.post("/_emulator/accounts/alice@outlook.com/events", json=all_day).status_code == 201
    )
    outside = {
        "subject": "next day",
        "start": "2030-03-05T09:00:00Z",
        "end": "2030-03-05T10:00:00Z",
    }
    assert (
        http.post("/_emulator/accounts/alice@outlook.com/events", json=outside).status_code == 201
    )


def test_calendar_view_pages_with_next_link_and_carries_show_as_and_flags(
    http: httpx.Client,
) -> None:
    seed_account(http)
    tokens = sign_in(http)
    _seed_day(http)
    select = "subject,start,end,showAs,isCancelled,isAllDay,responseStatus"
    url: str | None = "/v1.0/me/calendarView"
    params: dict[str, str] | None = {**WINDOW, "$select": select, "$top": "5"}
    seen: list[dict] = []
    pages = 0
    while url:
        reply = http.get(url, params=params, headers=bearer(tokens))
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert len(body["value"]) <= 5
        seen.extend(body["value"])
        url, params, pages = body.get("@odata.nextLink"), None, pages + 1
    assert (
        pages == 3 and len(seen) == 13
    )  # twelve timed events and the all-day one, not the next day's
    assert {e["showAs"] for e in seen} == {*SHOW_AS}
    first = seen[0]
    assert first["isAllDay"] is True and first["start"] == {
        "dateTime": "2030-03-04T00:00:00.0000000",
        "timeZone": "UTC",
    }
    assert set(first) == {"@odata.etag", "id", *select.split(",")}
    timed = {e["subject"]: e for e in seen[1:]}
    assert timed["event 00"]["start"] == {
        "dateTime": "2030-03-04T06:00:00.0000000",
        "timeZone": "UTC",
    }
    assert timed["event 10"]["isCancelled"] is True and timed["event 09"]["isCancelled"] is False
    assert timed["event 11"]["responseStatus"]["response"] == "declined"
    assert timed["event 00"]["responseStatus"]["response"] == "organizer"


def test_calendar_view_answers_in_the_preferred_time_zone(http: httpx.Client) -> None:
    seed_account(http)
    tokens = sign_in(http)
    _seed_day(http)
    reply = http.get(
        "/v1.0/me/calendarView",
        params={**WINDOW, "$top": "50"},
        headers=bearer(tokens, Prefer='outlook.timezone="Pacific Standard Time"'),
    )
    assert reply.headers["Preference-Applied"] == 'outlook.timezone="Pacific Standard Time"'
    first = next(e for e in reply.json()["value"] if e["subject"] == "event 00")
    assert first["start"] == {
        "dateTime": "2030-03-03T22:00:00.0000000",
        "timeZone": "Pacific Standard Time",
    }


def test_calendar_view_needs_its_window_and_a_known_select(http: httpx.Client) -> None:
    seed_account(http)
    tokens = sign_in(http)
    assert_graph_error(
        http.get("/v1.0/me/calendarView", headers=bearer(tokens)), 400, "ErrorInvalidParameter"
    )
    reply = http.get(
        "/v1.0/me/calendarView",
        params={**WINDOW, "$select": "subject,nonsense"},
        headers=bearer(tokens),
    )
    assert reply.status_code == 400 and "nonsense" in reply.json()["error"]["message"]


def test_calendar_view_of_one_calendar_holds_only_its_events(http: httpx.Client) -> None:
    account = seed_account(http, calendars=["Work"])
    work = account["calendars"][1]["id"]
    tokens = sign_in(http)
    http.post(
        "/_emulator/accounts/alice@outlook.com/events",
        json={"subject": "home", "start": "2030-03-04T09:00:00Z", "end": "2030-03-04T10:00:00Z"},
    )
    http.post(
        "/_emulator/accounts/alice@outlook.com/events",
        json={
            "calendar_id": work,
            "subject": "office",
            "start": "2030-03-04T11:00:00Z",
            "end": "2030-03-04T12:00:00Z",
        },
    )
    one = http.get(
        f"/v1.0/me/calendars/{work}/calendarView", params=WINDOW, headers=bearer(tokens)
    ).json()["value"]
    both = http.get("/v1.0/me/calendarView", params=WINDOW, headers=bearer(tokens)).json()["value"]
    assert [e["subject"] for e in one] == ["office"]
    assert [e["subject"] for e in both] == ["home", "office"]


def _meeting(transaction_id: str = "parlay-m1-c1") -> dict:
    return {
        "subject": "Intro call",
        "body": {"contentType": "HTML", "content": "Join: http://127.0.0.1:8000/m/abc"},
        "start": {"dateTime": "2030-03-04T15:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2030-03-04T15:30:00", "timeZone": "Europe/Berlin"},
        "location": {"displayName": "http://127.0.0.1:8000/m/abc"},
        "showAs": "busy",
        "transactionId": transaction_id,
    }


def test_create_twice_with_one_transaction_id_makes_one_event(http: httpx.Client) -> None:
    account = seed_account(http, calendars=["Work"])
    tokens = sign_in(http)
    first = http.post("/v1.0/me/events", json=_meeting(), headers=bearer(tokens))
    assert first.status_code == 201
    created = first.json()
    assert created["transactionId"] == "parlay-m1-c1" and created["subject"] == "Intro call"
    assert created["start"] == {
        "dateTime": "2030-03-04T15:00:00.0000000",
        "timeZone": "Europe/Berlin",
    }
    assert created["iCalUId"] and created["@odata.etag"].startswith('W/"')
    retry = http.post("/v1.0/me/events", json=_meeting(), headers=bearer(tokens))
    assert retry.status_code == 201 and retry.json()["id"] == created["id"]
    stored = http.get("/_emulator/accounts/alice@outlook.com/events").json()["events"]
    assert len(stored) == 1 and stored[0]["start"]["dateTime"] == "2030-03-04T14:00:00.0000000"

    work = account["calendars"][1]["id"]
    other = http.post(
        f"/v1.0/me/calendars/{work}/events", json=_meeting("parlay-m2-c1"), headers=bearer(tokens)
    )
    assert other.status_code == 201
    stored = http.get("/_emulator/accounts/alice@outlook.com/events").json()["events"]
    assert {e["transactionId"]: e["calendar_id"] for e in stored}["parlay-m2-c1"] == work


def test_unknown_property_is_refused(http: httpx.Client) -> None:
    seed_account(http)
    tokens = sign_in(http)
    reply = http.post(
        "/v1.0/me/events", json={**_meeting(), "sendUpdates": "none"}, headers=bearer(tokens)
    )
    assert_graph_error(reply, 400, "RequestBodyRead")
    assert http.get("/_emulator/accounts/alice@outlook.com/events").json()["events"] == []


def test_patch_moves_the_event_and_a_stale_etag_is_refused(http: httpx.Client) -> None:
    seed_account(http)
    tokens = sign_in(http)
    created = http.post("/v1.0/me/events", json=_meeting(), headers=bearer(tokens)).json()
    move = {
        "start": {"dateTime": "2030-03-04T17:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2030-03-04T17:30:00", "timeZone": "UTC"},
    }
    reply = http.patch(
        f"/v1.0/me/events/{created['id']}",
        json=move,
        headers=bearer(tokens, **{"If-Match": created["@odata.etag"]}),
    )
    assert reply.status_code == 200
    moved = reply.json()
    assert moved["start"] == {"dateTime": "2030-03-04T17:00:00.0000000", "timeZone": "UTC"}
    assert moved["subject"] == "Intro call" and moved["@odata.etag"] != created["@odata.etag"]
    stale = http.patch(
        f"/v1.0/me/events/{created['id']}",
        json={"subject": "x"},
        headers=bearer(tokens, **{"If-Match": created["@odata.etag"]}),
    )
    assert_graph_error(stale, 412, "ErrorIrresolvableConflict")
    view = http.get("/v1.0/me/calendarView", params=WINDOW, headers=bearer(tokens)).json()["value"]
    assert [(e["id"], e["start"]["dateTime"]) for e in view] == [
        (created["id"], "2030-03-04T17:00:00.0000000")
    ]


def test_delete_then_the_event_is_404(http: httpx.Client) -> None:
    seed_account(http)
    tokens = sign_in(http)
    created = http.post("/v1.0/me/events", json=_meeting(), headers=bearer(tokens)).json()
    assert (
        http.delete(f"/v1.0/me/events/{created['id']}", headers=bearer(tokens)).status_code == 204
    )
    for method in ("GET", "PATCH", "DELETE"):
        reply = http.request(
            method,
            f"/v1.0/me/events/{created['id']}",
            json={} if method == "PATCH" else None,
            headers=bearer(tokens),
        )
        assert_graph_error(reply, 404, "ErrorItemNotFound")
    assert (
        http.get("/v1.0/me/calendarView", params=WINDOW, headers=bearer(tokens)).json()["value"]
        == []
    )
    assert_graph_error(
        http.get("/v1.0/me/events/not-an-id", headers=bearer(tokens)),
        400,
        "ErrorInvalidIdMalformed",
    )


def test_429_with_retry_after_for_the_next_n_calls(http: httpx.Client) -> None:
    seed_account(http)
    tokens = sign_in(http)
    fault = http.post(
        "/_emulator/faults",
        json={
            "path": "/v1.0/me/calendarView",
            "method": "GET",
            "status": 429,
            "count": 2,
            "retry_after": 7,
        },
    )
    assert fault.status_code == 201
    for _ in range(2):
        reply = http.get("/v1.0/me/calendarView", params=WINDOW, headers=bearer(tokens))
        assert_graph_error(reply, 429, "TooManyRequests")
        assert reply.headers["Retry-After"] == "7"
    assert (
        http.get("/v1.0/me/calendarView", params=WINDOW, headers=bearer(tokens)).status_code == 200
    )
    assert http.get("/_emulator/faults").json() == {"faults": []}
    statuses = [
        r["status"]
        for r in http.get("/_emulator/requests").json()["requests"]
        if r["path"] == "/v1.0/me/calendarView"
    ]
    assert statuses == [429, 429, 200]


def test_a_lost_answer_then_a_retry_with_the_transaction_id_makes_no_duplicate(
    http: httpx.Client,
) -> None:
    seed_account(http)
    tokens = sign_in(http)
    http.post(
        "/_emulator/faults",
        json={"path": "/v1.0/me/events", "method": "POST", "status": 504, "after": True},
    )
    lost = http.post("/v1.0/me/events", json=_meeting(), headers=bearer(tokens))
    assert lost.status_code == 504 and lost.json()["error"]["code"] == "gatewayTimeout"
    retry = http.post("/v1.0/me/events", json=_meeting(), headers=bearer(tokens))
    assert retry.status_code == 201
    assert [
        e["id"] for e in http.get("/_emulator/accounts/alice@outlook.com/events").json()["events"]
    ] == [retry.json()["id"]]


def test_token_endpoint_faults_use_the_oauth_error_shape(http: httpx.Client) -> None:
    seed_account(http)
    tokens = sign_in(http)
    http.post(
        "/_emulator/faults", json={"path": "/*/oauth2/v2.0/token", "status": 503, "retry_after": 2}
    )
    reply = token(http, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert reply.status_code == 503 and reply.json()["error"] == "temporarily_unavailable"
    assert reply.headers["Retry-After"] == "2"
    assert (
        token(http, grant_type="refresh_token", refresh_token=tokens["refresh_token"]).status_code
        == 200
    )


def test_on_premises_mailbox_answers_mailbox_not_enabled_for_rest_api(http: httpx.Client) -> None:
    seed_account(http, "dana@contoso.com", kind="work", on_premises=True)
    tokens = sign_in(http)
    me = http.get("/v1.0/me", headers=bearer(tokens))
    assert me.status_code == 200 and me.json()["mail"] == "dana@contoso.com"
    for path in ("/v1.0/me/calendars", "/v1.0/me/calendar", "/v1.0/me/calendarView"):
        reply = http.get(path, params=WINDOW, headers=bearer(tokens))
        assert_graph_error(reply, 404, "MailboxNotEnabledForRESTAPI")
    reply = http.post("/v1.0/me/events", json=_meeting(), headers=bearer(tokens))
    assert_graph_error(reply, 404, "MailboxNotEnabledForRESTAPI")


def test_runs_as_a_module_on_the_given_port() -> None:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "parlay_emulators.microsoft",
            "--port",
            str(port),
            "--account",
            "demo@outlook.com",
        ]
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                reply = httpx.get(f"http://127.0.0.1:{port}/_emulator/accounts", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        assert [a["mail"] for a in reply.json()["accounts"]] == ["demo@outlook.com"]
    finally:
        process.terminate()
        process.wait(10)


# ---- calendarView delta -------------------------------------------------------------------------


def _delta_round(
    http: httpx.Client, tokens: dict, url: str, params: dict[str, str] | None = None, size: int = 4
) -> tuple[list[dict], str, int]:
    """Follow one delta round to its deltaLink: (items, deltaLink, pages)."""
    items: list[dict] = []
    pages = 0
    next_url: str | None = url
    while next_url:
        reply = http.get(
            next_url, params=params, headers=bearer(tokens, Prefer=f"odata.maxpagesize={size}")
        )
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert len(body["value"]) <= size
        items.extend(body["value"])
        pages += 1
        params = None
        if "@odata.deltaLink" in body:
            assert "@odata.nextLink" not in body and "$deltatoken=" in body["@odata.deltaLink"]
            return items, body["@odata.deltaLink"], pages
        next_url = body["@odata.nextLink"]
        assert "$skiptoken=" in next_url and "startDateTime" not in next_url
    raise AssertionError("the round ended without a deltaLink")


def test_calendar_view_delta_pages_to_a_delta_link_then_lists_only_changes(
    http: httpx.Client,
) -> None:
    seed_account(http)
    tokens = sign_in(http)
    _seed_day(http)
    first, delta_link, pages = _delta_round(http, tokens, "/v1.0/me/calendarView/delta", WINDOW)
    assert pages == 4 and len(first) == 13  # the window's events in pages of 4, not the next day
    by_subject = {e["subject"]: e for e in first}
    assert by_subject["event 00"]["start"]["dateTime"] == "2030-03-04T06:00:00.0000000"

    again, delta_link, _ = _delta_round(http, tokens, delta_link)
    assert again == []  # nothing changed

    moved, gone = by_subject["event 01"]["id"], by_subject["event 02"]["id"]
    out = by_subject["event 03"]["id"]
    assert (
        http.patch(
            f"/v1.0/me/events/{moved}",
            json={
                "start": {"dateTime": "2030-03-04T20:00:00", "timeZone": "UTC"},
                "end": {"dateTime": "2030-03-04T21:00:00", "timeZone": "UTC"},
            },
            headers=bearer(tokens),
        ).status_code
        == 200
    )
    assert http.delete(f"/v1.0/me/events/{gone}", headers=bearer(tokens)).status_code == 204
    assert (
        http.patch(
            f"/v1.0/me/events/{out}",
            json={
                "start": {"dateTime": "2030-03-06T08:00:00", "timeZone": "UTC"},
                "end": {"dateTime": "2030-03-06T09:00:00", "timeZone": "UTC"},
            },
            headers=bearer(tokens),
        ).status_code
        == 200
    )
    added = http.post(
        "/v1.0/me/events",
        json={**_meeting(), "subject": "new one"},
        headers=bearer(tokens),
    ).json()
    changes, _, _ = _delta_round(http, tokens, delta_link)
    by_id = {c["id"]: c for c in changes}
    assert set(by_id) == {moved, gone, out, added["id"]}
    assert by_id[moved]["start"]["dateTime"] == "2030-03-04T20:00:00.0000000"
    assert by_id[gone]["@removed"] == {"reason": "deleted"}
    assert by_id[out]["@removed"] == {"reason": "deleted"}  # moved out of the window
    assert by_id[added["id"]]["transactionId"] == "parlay-m1-c1"


def test_calendar_view_delta_of_one_calendar_and_its_unsupported_options(
    http: httpx.Client,
) -> None:
    account = seed_account(http, calendars=["Holidays"])
    tokens = sign_in(http)
    holidays = next(c["id"] for c in account["calendars"] if c["name"] == "Holidays")
    _seed_day(http)
    body = {"subject": "off", "start": "2030-03-04T10:00:00Z", "end": "2030-03-04T11:00:00Z"}
    http.post(
        "/_emulator/accounts/alice@outlook.com/events", json={**body, "calendar_id": holidays}
    )
    items, _, _ = _delta_round(
        http, tokens, f"/v1.0/me/calendars/{holidays}/calendarView/delta", WINDOW
    )
    assert [i["subject"] for i in items] == ["off"]
    reply = http.get(
        "/v1.0/me/calendarView/delta", params={**WINDOW, "$select": "start"}, headers=bearer(tokens)
    )
    assert_graph_error(reply, 400, "ErrorInvalidUrlQuery")
    reply = http.get("/v1.0/me/calendarView/delta", headers=bearer(tokens))
    assert_graph_error(reply, 400, "ErrorInvalidParameter")


def test_expired_or_unknown_delta_tokens_are_410_sync_state_not_found(http: httpx.Client) -> None:
    account = seed_account(http)
    tokens = sign_in(http)
    calendar = account["calendars"][0]["id"]
    url = f"/v1.0/me/calendars/{calendar}/calendarView/delta"
    _, delta_link, _ = _delta_round(http, tokens, url, WINDOW)
    unknown = http.get(f"{url}?$deltatoken=nope", headers=bearer(tokens))
    assert_graph_error(unknown, 410, "syncStateNotFound")
    expired = http.post(f"/_emulator/calendars/{calendar}/delta/expire", json={})
    assert expired.json() == {"expired": 1}
    assert_graph_error(http.get(delta_link, headers=bearer(tokens)), 410, "syncStateNotFound")
    _, delta_link, _ = _delta_round(http, tokens, url, WINDOW)  # a new round works again
    http.post(f"/_emulator/calendars/{calendar}/delta/expire", json={"code": "resyncRequired"})
    assert_graph_error(http.get(delta_link, headers=bearer(tokens)), 410, "resyncRequired")


def test_partial_delta_updates_carry_the_id_and_what_changed(http: httpx.Client) -> None:
    seed_account(http)
    tokens = sign_in(http)
    made = http.post("/v1.0/me/events", json=_meeting(), headers=bearer(tokens)).json()
    _, delta_link, _ = _delta_round(http, tokens, "/v1.0/me/calendarView/delta", WINDOW)
    assert http.post("/_emulator/delta", json={"partial_updates": True}).status_code == 200
    http.patch(f"/v1.0/me/events/{made['id']}", json={"showAs": "free"}, headers=bearer(tokens))
    (change,), _, _ = _delta_round(http, tokens, delta_link)
    assert change["id"] == made["id"] and change["showAs"] == "free"
    assert "transactionId" not in change and "start" not in change


def test_old_delta_tokens_are_forgotten_past_a_bound(http: httpx.Client) -> None:
    seed_account(http)
    tokens = sign_in(http)
    _, oldest, _ = _delta_round(http, tokens, "/v1.0/me/calendarView/delta", WINDOW)
    latest = oldest
    for _ in range(20):
        _, latest, _ = _delta_round(http, tokens, latest)
    assert_graph_error(http.get(oldest, headers=bearer(tokens)), 410, "syncStateNotFound")
    assert http.get(latest, headers=bearer(tokens)).status_code == 200
