"""Browser tests: a real ``parlay serve`` subprocess driven by Debian Chromium (Playwright, sync).

The server runs once per session on a free port with its own data directory.  Each test opens
fresh browser contexts (desktop 1280x800 and phone 360x740) through the ``open_page`` factory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from parlay import devstack
from parlay.devstack import Emulator
from tests.e2e.ui import sign_up
from tests.providers.conftest import Radicale, start_radicale

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
DEVICES: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True},
}
STARTUP_SECONDS = 60


@dataclass(frozen=True)
class Account:
    name: str
    email: str
    time_zone: str
    state: dict[str, Any]  # Playwright storage state: the signed-in session cookie


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def serve_parlay(
    data_dir: Path, port: int | None = None, extra_env: dict[str, str] | None = None
) -> Iterator[str]:
    """A ``parlay serve`` subprocess (PARLAY_ENV=test, its own data dir); yields its base URL."""
    parlay = Path(sys.executable).parent / "parlay"
    if not parlay.exists():
        found = shutil.which("parlay")
        if found is None:
            pytest.fail(f"the parlay command is missing next to {sys.executable}")
        parlay = Path(found)
    port = port or _free_port()
    inherited = {
        k: v for k, v in os.environ.items() if k not in ("PARLAY_DATABASE_URL", "PARLAY_NOW")
    }
    env = {
        **inherited,
        "PARLAY_ENV": "test",
        "PARLAY_DATA_DIR": str(data_dir),
        "PARLAY_RATE_LIMITS": "off",
        "PARLAY_SECRET_KEY": "x",
        "PARLAY_BASE_URL": f"http://127.0.0.1:{port}",  # join links point at this server
        **(extra_env or {}),
    }
    log_path = data_dir / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(parlay), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-3000:]
                pytest.fail(f"parlay serve did not become healthy at {url}:\n{tail}")
            time.sleep(0.1)  # polling the health check, not waiting on the UI
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a ``parlay serve`` subprocess (PARLAY_ENV=test, its own data dir)."""
    with serve_parlay(tmp_path_factory.mktemp("parlay-e2e")) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module.

    Module scope, not session: the sync Playwright API keeps an event loop running while it is
    started, and the async tests collected after this directory need none to be running.
    """
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install -y chromium)"
        if os.environ.get("PARLAY_REQUIRE_SERVICES") == "1":
            pytest.fail(message + " (PARLAY_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    path = Path(os.environ.get("PARLAY_ARTIFACTS", "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(params=sorted(DEVICES))
def device(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture
def open_page(
    browser: Any, server: str, device: str, artifacts: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Any]]:
    """``open_page(time_zone=...)``: a page in a fresh context of the current device.

    Each page records console errors and CSP violations in ``page.problems``; the test fails
    at teardown if any were seen.
    """
    contexts: list[Any] = []
    pages: list[Any] = []

    def open_(time_zone: str = "Europe/Berlin", account: Account | None = None) -> Any:
        context = browser.new_context(
            base_url=server,
            timezone_id=account.time_zone if account else time_zone,
            locale="en-GB",
            storage_state=account.state if account else None,
            **DEVICES[device],
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.problems = []

        def on_console(msg: Any) -> None:
            text = msg.text
            # Expected HTTP errors (a 404 room, a 401 login) log "Failed to load resource".
            unexpected = msg.type == "error" and "Failed to load resource" not in text
            if unexpected or "Content Security Policy" in text:
                page.problems.append(text)

        page.on("console", on_console)
        page.on("pageerror", lambda exc: page.problems.append(f"page error: {exc}"))
        pages.append(page)
        return page

    yield open_
    if request.node.stash.get(FAILED, False):
        for index, page in enumerate(pages):
            name = f"FAILED-{request.node.name}-{index}.png".replace("/", "_")
            try:
                page.screenshot(path=str(artifacts / name))
            except Exception as exc:  # a crashed page must not hide the test's own failure
                print(f"no screenshot of page {index}: {exc}")
    problems = [p for page in pages for p in page.problems]
    for context in contexts:
        context.close()
    assert not problems, "browser console problems:\n" + "\n".join(problems)


@pytest.fixture(scope="session")
def _pairs() -> dict[str, tuple[Account, Account]]:
    return {}


@pytest.fixture
def pair(
    browser: Any, server: str, device: str, _pairs: dict[str, tuple[Account, Account]]
) -> tuple[Account, Account]:
    """Ann (Berlin) and Ben (New York), signed up through the UI once per device size.

    Tests share them (each test makes its own room), so the slow password hashing of a
    sign-up is paid a few times per run rather than twice per test.
    """
    if device not in _pairs:
        people = []
        for name, zone in (("Ann Archer", "Europe/Berlin"), ("Ben Baker", "America/New_York")):
            context = browser.new_context(
                base_url=server, timezone_id=zone, locale="en-GB", **DEVICES[device]
            )
            context.set_default_timeout(10_000)
            try:
                email = sign_up(context.new_page(), name, zone)
                people.append(Account(name, email, zone, context.storage_state()))
            finally:
                context.close()
        _pairs[device] = (people[0], people[1])
    return _pairs[device]


@dataclass(frozen=True)
class CalendarStack:
    """A Parlay server pointed at the Google and Microsoft emulators (OAuth clients registered,
    the outbox worker in process), and a Radicale for CalDAV."""

    url: str
    google: Emulator
    microsoft: Emulator
    radicale: Radicale


@pytest.fixture(scope="session")
def calendar_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CalendarStack]:
    """Test modules that link calendars use it in place of ``server``::

    @pytest.fixture(scope="module")
    def server(calendar_stack: CalendarStack) -> str:
        return calendar_stack.url
    """
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    with (
        devstack.running() as emulators,
        start_radicale(tmp_path_factory.mktemp("radicale")) as radicale,
    ):
        env = devstack.settings_env(emulators["google"], emulators["microsoft"], base_url)
        env["PARLAY_INPROCESS_WORKER"] = "true"  # meetings go out through the outbox worker
        data_dir = tmp_path_factory.mktemp("parlay-calendars")
        with serve_parlay(data_dir, port, env) as url:
            yield CalendarStack(url, emulators["google"], emulators["microsoft"], radicale)
