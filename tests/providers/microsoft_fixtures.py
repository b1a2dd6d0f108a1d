"""The Microsoft emulator for provider tests: served in-process over real HTTP, accounts signed
in through its own authorize/consent/token endpoints, adapters refreshing through Parlay's real
OAuth client."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from parlay.providers.dto import Credentials
from parlay.providers.microsoft import MicrosoftProvider
from parlay.providers.oauth import OAuthClient, microsoft_config
from parlay_emulators.microsoft import create_app
from tests.emulator_servers import serve_asgi

CLIENT = "parlay-test-client"
REDIRECT = "http://127.0.0.1:9/oauth/microsoft/callback"


@pytest.fixture(name="emulator", scope="session")
def emulator_fixture() -> Iterator[str]:
    with serve_asgi(create_app()) as url:
        yield url


@pytest.fixture(name="control")
def control_fixture(emulator: str) -> Iterator[httpx.Client]:
    """The emulator's control API, on an emptied emulator."""
    with httpx.Client(base_url=emulator, timeout=10) as client:
        assert client.post("/_emulator/reset").status_code == 204
        yield client


def base(control: httpx.Client) -> str:
    return str(control.base_url).rstrip("/")


def add_account(control: httpx.Client, upn: str = "alice@outlook.com", **extra: Any) -> dict:
    reply = control.post(
        "/_emulator/accounts",
        json={"userPrincipalName": upn, "displayName": "Alice Adams", **extra},
    )
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


def sign_in(control: httpx.Client, upn: str) -> Credentials:
    """Consent as ``upn`` in the emulator and trade the code, as the callback would."""
    oauth = OAuthClient(microsoft_config(CLIENT, None, f"{base(control)}/common"))
    url = oauth.authorization_url(REDIRECT, "state-1", "v" * 64) + f"&login_hint={upn}"
    page = control.get(url)
    assert page.status_code == 200, page.text
    form = {
        "request": re.search(r'name="request" value="([^"]+)"', page.text).group(1),  # type: ignore[union-attr]
        "account": re.search(r'name="account" value="([^"]+)" checked', page.text).group(1),  # type: ignore[union-attr]
        "action": "accept",
    }
    answer = control.post("/common/oauth2/v2.0/authorize", data=form)
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    reply = control.post(
        "/common/oauth2/v2.0/token",
        data={
            "client_id": CLIENT,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": "v" * 64,
        },
    )
    assert reply.status_code == 200, reply.text
    token = reply.json()
    return Credentials(access_token=token["access_token"], refresh_token=token["refresh_token"])


def provider_for(control: httpx.Client, creds: Credentials, **kwargs: Any) -> MicrosoftProvider:
    oauth = OAuthClient(microsoft_config(CLIENT, None, f"{base(control)}/common"))
    return MicrosoftProvider(
        creds,
        connection_id=f"c-{id(creds)}",
        refresh=oauth.refresh,
        timeout=10,
        graph_url=f"{base(control)}/v1.0",
        **kwargs,
    )


@pytest.fixture(name="alice")
def alice_fixture(control: httpx.Client) -> MicrosoftProvider:
    add_account(control, calendars=["Holidays"])
    return provider_for(control, sign_in(control, "alice@outlook.com"))


def calendar_ids(control: httpx.Client, upn: str = "alice@outlook.com") -> dict[str, str]:
    (account,) = [
        a for a in control.get("/_emulator/accounts").json()["accounts"] if a["mail"] == upn
    ]
    return {c["name"]: c["id"] for c in account["calendars"]}


def seed(control: httpx.Client, start: Any, end: Any, **event: Any) -> str:
    body = {"subject": "seeded", "start": start, "end": end, **event}
    reply = control.post("/_emulator/accounts/alice@outlook.com/events", json=body)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def stored(control: httpx.Client) -> list[dict[str, Any]]:
    """Alice's live events as the emulator holds them."""
    events = control.get("/_emulator/accounts/alice@outlook.com/events").json()["events"]
    return [e for e in events if not e["deleted"]]


def requests_log(control: httpx.Client) -> list[dict[str, Any]]:
    return list(control.get("/_emulator/requests").json()["requests"])


def revoke(control: httpx.Client, **body: Any) -> None:
    assert control.post("/_emulator/revoke", json=body).status_code == 200


def fault(control: httpx.Client, **spec: Any) -> None:
    assert control.post("/_emulator/faults", json=spec).status_code == 201
