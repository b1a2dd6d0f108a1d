"""Whether PostgreSQL and Redis answer; tests needing them skip (or fail in CI) otherwise."""

from __future__ import annotations

import os
import socket

import pytest

PG_URL = os.environ.get("PARLAY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("PARLAY_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def require(name: str, host: str, port: int) -> None:
    if _answers(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if os.environ.get("PARLAY_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (PARLAY_REQUIRE_SERVICES=1)")
    pytest.skip(message)


def require_postgres() -> None:
    require("PostgreSQL", "127.0.0.1", 5432)


def require_redis() -> None:
    require("Redis", "127.0.0.1", 6379)
