"""The server never connects to its own network on a user's say-so (SSRF), unless allowed."""

from __future__ import annotations

from typing import Any

import pytest

from parlay.services.outbound import AddressNotAllowed, check_public_url
from parlay.settings import Settings
from tests.conftest import Person


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings(allow_private_calendar_urls=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:5232/",
        "http://localhost/dav/",
        "http://[::1]/",
        "http://10.1.2.3/",
        "http://192.168.0.10:8080/remote.php/dav",
        "http://169.254.169.254/latest/meta-data/",
        "https://0.0.0.0/",
    ],
)
async def test_private_addresses_are_refused_and_nothing_is_stored(
    backend: str, alice: Person, url: str
) -> None:
    if backend != "sqlite":
        pytest.skip("no database involved beyond the first backend")
    r = await alice.client.post(
        "/api/v1/calendars/caldav", json={"url": url, "username": "alice", "password": "pw"}
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"] == {
        "code": "caldav_unreachable",
        "message": r.json()["error"]["message"],
        "field": "url",
    }
    assert "public" in r.json()["error"]["message"]
    listed = (await alice.client.get("/api/v1/calendars")).json()
    assert listed["calendars"] == []


async def test_public_addresses_pass_the_check() -> None:
    await check_public_url("https://93.184.216.34/dav/")  # an IP literal: no DNS involved
    with pytest.raises(AddressNotAllowed):
        await check_public_url("http://[fd00::1]/")


def test_private_urls_are_allowed_by_default_only_outside_production() -> None:
    common = {"database_url": "postgresql://x@h/db", "secret_key": "k" * 32}
    assert Settings(env="development", **common).private_calendar_urls_allowed
    assert not Settings(env="production", **common).private_calendar_urls_allowed
    allowed = Settings(env="production", allow_private_calendar_urls=True, **common)
    assert allowed.private_calendar_urls_allowed
