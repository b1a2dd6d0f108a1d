"""Video: time from **Join** to the first remote frame, mesh and Janus, and the server's CPU
per participant for signaling.

Per mode: a real ``parlay serve`` (SQLite, pinned clock moved into the call's window; in Janus
mode with ``PARLAY_JANUS_URL`` pointing at a Janus of its own, config copied from /etc/janus)
and Debian Chromium with fake camera and microphone (Playwright).  Alice joins the meeting and
stays; Bob then joins ``JOINS`` times (page loaded and camera preview playing, then the clock
starts at the click on Join and stops when a remote ``<video>`` has a frame, measured in the
page), leaving after each.  The server's CPU time (user + system, /proc) over Bob's joins,
divided by the joins, is the signaling cost of one participant entering a call (Janus's own
CPU is shown beside it in Janus mode: the media work moved there).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from bench.common import Server, free_port, live_cpu_seconds, percentile, progress

from parlay.video.janus_process import janus_installed, start_janus

JOINS = 10
NOW = "2026-11-30T08:00:00Z"
DAY = "2026-12-01"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]
PASSWORD = "bench password 123"
ALL_WEEK = {
    d: [{"start": "00:00", "end": "24:00"}]
    for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}
# Click Join, then resolve with the milliseconds until a remote video has a frame.
JOIN_TO_FRAME = """() => new Promise((resolve) => {
  const t0 = performance.now();
  document.getElementById('call-join').click();
  const check = () => {
    const remote = [...document.querySelectorAll('.call-tile:not([data-connection="self"]) video')];
    if (remote.some((v) => v.videoWidth > 0)) resolve(performance.now() - t0);
    else requestAnimationFrame(check);
  };
  check();
})"""
PREVIEW = "() => document.getElementById('call-preview').videoWidth > 0"


def _sign_up(context: Any, name: str, n: int) -> str:
    email = f"{name.lower()}-{n}-{time.time_ns()}@example.com"
    body = {"email": email, "password": PASSWORD, "display_name": name, "time_zone": "UTC"}
    assert context.request.post("/api/v1/auth/signup", data=body).status == 201
    assert context.request.post(
        "/api/v1/auth/login", data={"email": email, "password": PASSWORD}
    ).ok
    return email


def _api(context: Any, method: str, path: str, body: Any = None) -> Any:
    csrf = context.request.get("/api/v1/me").json()["csrf_token"]
    response = context.request.fetch(path, method=method, data=body, headers={"X-CSRF-Token": csrf})
    assert response.ok, response.text()
    return response.json() if response.status != 204 else None


def _meeting(alice: Any, bob: Any, bob_email: str) -> str:
    """A meeting of Alice's and Bob's whose call is open; its join URL."""
    room = _api(alice, "POST", "/api/v1/rooms", {"title": "Bench", "member_emails": [bob_email]})
    body = {"time_zone": "UTC", "weekly": ALL_WEEK, "duration_minutes": 30}
    invite = _api(alice, "POST", f"/api/v1/rooms/{room['id']}/invites", body)
    slots = bob.request.get(f"/api/v1/invites/{invite['id']}/slots?date={DAY}&tz=UTC").json()
    start = slots["slots"][0]["start"]
    meeting = _api(bob, "POST", f"/api/v1/invites/{invite['id']}/book", {"start": start})
    _api(alice, "POST", "/api/v1/test/clock", {"now": f"{DAY}T{start[11:16]}:00Z"})
    return str(meeting["join_url"])


def _wait_ready(server: Server, within: float = 60.0) -> None:
    """Sync (Playwright's sync API keeps an event loop running in this thread)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if server.proc is not None and server.proc.poll() is not None:
            raise RuntimeError(f"parlay serve exited early:\n{server.log_tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.base_url + "/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"parlay serve not ready:\n{server.log_tail()}")


@contextmanager
def _server(folder: Path, janus_url: str | None) -> Iterator[Server]:
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        "PARLAY_BASE_URL": f"http://127.0.0.1:{port}",
        "PARLAY_ENV": "test",
        "PARLAY_NOW": NOW,
        "PARLAY_DATA_DIR": str(folder),
        "PARLAY_RATE_LIMITS": "off",
        "PARLAY_SECRET_KEY": "bench-video-join",
    }
    if janus_url:
        env["PARLAY_JANUS_URL"] = janus_url
    server = Server(env, log_path=folder / "server.log", port=port)
    server.start()
    try:
        _wait_ready(server)
        yield server
    finally:
        server.stop()


def _measure(browser: Any, server: Server) -> tuple[list[float], float]:
    """Bob's join-to-first-frame times (ms) and the server's CPU seconds over them."""
    alice = browser.new_context(base_url=server.base_url)
    bob = browser.new_context(base_url=server.base_url)
    try:
        for context in (alice, bob):
            context.set_default_timeout(30_000)
        _sign_up(alice, "Alice", 1)
        join_url = _meeting(alice, bob, _sign_up(bob, "Bob", 2))
        host = alice.new_page()
        host.goto(join_url)
        host.wait_for_function(PREVIEW)
        host.get_by_role("button", name="Join", exact=True).click()
        host.get_by_role("button", name="Leave").wait_for()
        page = bob.new_page()
        times: list[float] = []
        cpu = 0.0
        for _ in range(JOINS):
            page.goto(join_url)
            page.wait_for_function(PREVIEW)
            before = live_cpu_seconds(server.pid)
            times.append(float(page.evaluate(JOIN_TO_FRAME)))
            cpu += live_cpu_seconds(server.pid) - before
            page.get_by_role("button", name="Leave").click()
            page.get_by_role("button", name="Join", exact=True).wait_for()
        return times, cpu
    finally:
        alice.close()
        bob.close()


def _rows(mode: str, times: list[float], cpu: float, extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "name": f"[{mode}] join -> first frame",
            "value": round(statistics.median(times), 1),
            "unit": "ms (p50)",
            "p90_ms": round(percentile(times, 90), 1),
            "joins": len(times),
            "samples_ms": [round(t, 1) for t in times],
        },
        {
            "name": f"[{mode}] server CPU / join",
            "value": round(cpu / len(times) * 1000, 1),
            "unit": "ms CPU",
            "note": "parlay serve user+system CPU over the joins / participants joined",
            **extra,
        },
    ]


def run() -> list[dict[str, Any]]:
    if not Path(CHROMIUM).exists():
        progress("chromium missing: video_join skipped")
        return []
    from playwright.sync_api import sync_playwright

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-video-") as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            progress(f"mesh: alice in the call, bob joins {JOINS} times")
            with _server(Path(tmp) / "mesh", None) as server:
                times, cpu = _measure(browser, server)
            rows += _rows("mesh", times, cpu, {})
            if not janus_installed():
                progress("janus not installed: janus mode skipped")
                return rows
            progress("janus: the same through a Janus VideoRoom")
            janus = start_janus(Path(tmp) / "janus")
            try:
                with _server(Path(tmp) / "janus", janus.url) as server:
                    janus_before = live_cpu_seconds(janus.process.pid)
                    times, cpu = _measure(browser, server)
                    janus_cpu = live_cpu_seconds(janus.process.pid) - janus_before
            finally:
                janus.stop()
            # Janus's CPU over the same span also forwards Alice's and Bob's media meanwhile.
            janus_ms = round(janus_cpu / len(times) * 1000, 1)
            rows += _rows("janus", times, cpu, {"janus_cpu_ms_per_join_incl_media": janus_ms})
        finally:
            browser.close()
    return rows


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    for row in run():
        print(row)
