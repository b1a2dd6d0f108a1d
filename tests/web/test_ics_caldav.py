"""The meeting's .ics is accepted by a real CalDAV server (Radicale validates what it stores)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from parlay.settings import Settings
from tests.conftest import Person
from tests.web.test_scheduling import NOW, book, share


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings(now=NOW)


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("radicale")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = folder / "config"
    config.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n[auth]\ntype = none\n"
        f"[storage]\nfilesystem_folder = {folder / 'collections'}\n[rights]\ntype = owner_only\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(url, timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_radicale_stores_our_ics(
    radicale: str, room: dict[str, Any], alice: Person, bob: Person, tmp_path: Path
) -> None:
    invite = await share(alice, room["id"])
    meeting = await book(bob, invite, "2026-12-01T08:00:00Z")
    ics = (await bob.client.get(f"/api/v1/meetings/{meeting['id']}/ics")).content
    async with httpx.AsyncClient(base_url=radicale, auth=("alice", "x")) as dav:
        calendar = f"/alice/{tmp_path.name}/"
        assert (await dav.request("MKCALENDAR", calendar)).status_code == 201
        put = await dav.put(
            f"{calendar}{meeting['id']}.ics",
            content=ics,
            headers={"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"},
        )
        assert put.status_code == 201, put.text
        # A broken object is refused, so the 201 above is a real validation.
        broken = await dav.put(
            f"{calendar}broken.ics",
            content=b"BEGIN:VCALENDAR\r\nEND:VEVENT\r\n",
            headers={"Content-Type": "text/calendar"},
        )
        assert broken.status_code == 400
        stored = await dav.get(f"{calendar}{meeting['id']}.ics")
        assert f"UID:{meeting['id']}@parlay" in stored.text
