"""The Google emulator served in-process over real HTTP, and a way to get real tokens from it.

Tokens come from the emulator's own OAuth flow (consent form, code, token endpoint), so the
adapter meets exactly what a linked account would give it.  The refresh callback here plays
the service's part: the token endpoint, ``invalid_grant`` -> ``AuthExpired``.
Import ``google_fixture`` and ``google_server_fixture`` into a test module to use them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from parlay.providers.dto import Credentials
from parlay.providers.errors import AuthExpired
from parlay.providers.google import GoogleProvider
from parlay_emulators.google import create_app
from tests.emulator_servers import serve_asgi

CLIENT_ID = "parlay-test.apps.googleusercontent.com"
REDIRECT = "http://127.0.0.1:9/oauth/google/callback"
SCOPES = "openid email https://www.googleapis.com/auth/calendar"


@dataclass
class GoogleEmulator:
    url: str
    http: httpx.Client

    def account(self, email: str, time_zone: str = "UTC") -> str:
        answer = self.http.post(
            "/_emulator/accounts", json={"email": email, "time_zone": time_zone}
        )
        answer.raise_for_status()
        return email

    def calendar(self, owner: str, summary: str, time_zone: str | None = None) -> str:
        body = {"owner": owner, "summary": summary, "time_zone": time_zone}
        answer = self.http.post("/_emulator/calendars", json=body)
        answer.raise_for_status()
        return str(answer.json()["id"])

    def tokens(self, email: str, scope: str = SCOPES) -> dict[str, Any]:
        """Consent as ``email`` on the emulator's page and redeem the code."""
        params = {
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": scope,
            "access_type": "offline",
            "prompt": "consent",
            "login_hint": email,
        }
        page = self.http.get("/o/oauth2/v2/auth", params=params)
        page.raise_for_status()
        form = {
            unescape(k): unescape(v)
            for k, v in re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text)
        }
        back = self.http.post(
            "/o/oauth2/v2/auth", data=form | {"email": email, "decision": "allow"}
        )
        code = parse_qs(urlsplit(back.headers["location"]).query)["code"][0]
        answer = self.http.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "client_id": CLIENT_ID,
            },
        )
        answer.raise_for_status()
        return dict(answer.json())

    def seed(self, calendar_id: str, event: dict[str, Any]) -> dict[str, Any]:
        answer = self.http.post(f"/_emulator/calendars/{calendar_id}/events", json=event)
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    def stored(self, calendar_id: str) -> list[dict[str, Any]]:
        """Every event the calendar holds, deleted ones (status cancelled) too."""
        answer = self.http.get(f"/_emulator/calendars/{calendar_id}/events")
        answer.raise_for_status()
        return list(answer.json()["items"])

    def fault(self, operation: str, status: int, **extra: Any) -> None:
        body = {"operation": operation, "status": status, **extra}
        self.http.post("/_emulator/faults", json=body).raise_for_status()

    def requests(self, operation: str) -> list[dict[str, Any]]:
        log = self.http.get("/_emulator/requests").json()["requests"]
        return [r for r in log if r["operation"] == operation]

    def post(self, path: str, body: dict[str, Any] | None = None) -> None:
        self.http.post(path, json=body or {}).raise_for_status()

    async def refresh(self, stale: Credentials) -> Credentials:
        """The service's refresh callback, against the emulator's token endpoint."""
        async with httpx.AsyncClient(base_url=self.url) as client:
            answer = await client.post(
                "/token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": stale.refresh_token or "",
                    "client_id": CLIENT_ID,
                },
            )
        if answer.status_code == 400 and answer.json().get("error") == "invalid_grant":
            raise AuthExpired("refresh token refused")
        answer.raise_for_status()
        return Credentials(
            access_token=answer.json()["access_token"], refresh_token=stale.refresh_token
        )

    def provider(self, email: str, *, refresh: bool = True, **kw: Any) -> GoogleProvider:
        tokens = self.tokens(email)
        creds = Credentials(
            access_token=tokens["access_token"], refresh_token=tokens.get("refresh_token")
        )
        return GoogleProvider(
            creds,
            connection_id=f"conn-{email}",
            refresh=self.refresh if refresh else None,
            timeout=10,
            api_url=self.url,
            userinfo_url=f"{self.url}/v1/userinfo",
            **kw,
        )


@pytest.fixture(name="google_server", scope="session")
def google_server_fixture() -> Iterator[str]:
    with serve_asgi(create_app()) as url:
        yield url


@pytest.fixture(name="google")
def google_fixture(google_server: str) -> Iterator[GoogleEmulator]:
    """A freshly reset emulator (its clock and faults too)."""
    with httpx.Client(base_url=google_server, timeout=10) as http:
        http.post("/_emulator/reset").raise_for_status()
        yield GoogleEmulator(google_server, http)
