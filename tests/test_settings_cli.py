"""Settings refuse unsafe combinations; the CLI's demo data is idempotent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from parlay.settings import Settings


def test_pinned_clock_only_in_test_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLAY_NOW", "2026-12-01T09:00:00Z")
    with pytest.raises(ValidationError, match="PARLAY_NOW"):
        Settings(env="development")
    assert Settings(env="test").now is not None


def test_production_needs_secret_and_database() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(env="production", database_url="postgresql://x@h/db")
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        Settings(env="production", secret_key="k" * 32)
    prod = Settings(env="production", secret_key="k" * 32, database_url="postgresql://x@h/db")
    assert prod.cookie_secure and prod.resolved_database_url.startswith("postgresql+asyncpg://")


def test_database_urls_get_async_drivers() -> None:
    assert Settings(database_url="sqlite:///a/b.db").resolved_database_url == (
        "sqlite+aiosqlite:///a/b.db"
    )
    with pytest.raises(ValueError, match="PARLAY_DATABASE_URL"):
        _ = Settings(database_url="mysql://x").resolved_database_url


def test_generated_secret_key_is_kept(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).resolved_secret_key()
    assert len(first) > 40 and first == Settings(data_dir=tmp_path).resolved_secret_key()
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_demo_is_idempotent(tmp_path: Path) -> None:
    env = {"PARLAY_DATA_DIR": str(tmp_path), "PARLAY_ENV": "test", "PATH": "/usr/bin:/bin"}
    cli = [sys.executable, "-c", "from parlay.cli import app; app()"]
    for _ in range(2):
        done = subprocess.run([*cli, "demo"], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "alice@example.com" in done.stdout
    import sqlite3

    with sqlite3.connect(tmp_path / "parlay.db") as db:
        assert db.execute("select count(*) from users").fetchone() == (3,)
        assert db.execute("select count(*) from rooms").fetchone() == (1,)
