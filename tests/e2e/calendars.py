"""Helpers for the browser tests that link calendars: polling the outside world with a deadline
(the outbox worker writes there in the background)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
DEADLINE_SECONDS = 30


def eventually(check: Callable[[], T | None], what: str, seconds: float = DEADLINE_SECONDS) -> T:
    """Poll ``check`` until it returns something truthy; fail after ``seconds`` saying ``what``."""
    deadline = time.monotonic() + seconds
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what} (last seen: {last!r})")
