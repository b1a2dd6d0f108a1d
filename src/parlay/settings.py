"""Settings read from the environment (``PARLAY_*``).

There is no global instance: ``Settings()`` is built once by the CLI or the test, and passed
down.  Unsafe combinations are refused at construction time.
"""

from __future__ import annotations

import ipaddress
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_KEY_LENGTH = 32
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class Settings(BaseSettings):
    # hide_input_in_errors: a refused configuration must not print the secrets it was given.
    model_config = SettingsConfigDict(
        env_prefix="PARLAY_", extra="ignore", hide_input_in_errors=True
    )

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str | None = None
    secret_key: SecretStr | None = None
    now: datetime | None = Field(
        default=None, description="Pinned clock (RFC 3339), only with PARLAY_ENV=test."
    )
    #: The public URL in join links and calendar files.  Unset, ``parlay serve`` uses the
    #: address it listens on (see ``for_listen_address``); other commands use this default.
    base_url: str = DEFAULT_BASE_URL
    rate_limits: Literal["on", "off"] = "on"
    #: Proxies whose X-Forwarded-For names the client (comma-separated IPs or CIDRs); empty
    #: trusts none, so the client is the connecting peer.
    trusted_proxies: str = ""
    #: Prefix of the keys Parlay keeps in Redis (shared rate-limit counts).
    redis_key_prefix: str = Field(default="parlay", min_length=1, max_length=100)
    session_days: int = Field(default=30, ge=1, le=365)
    #: Run the outbox worker inside the web process (the embedded default).
    inprocess_worker: bool = True
    #: How long a process trusts a session or token it has just looked up (seconds; 0 = off).
    auth_cache_seconds: float = Field(default=2.0, ge=0, le=60)
    #: How often the live-event pump polls the database as a safety net (seconds).
    event_poll_seconds: float = Field(default=2.0, gt=0)
    #: A connection must finish sending a request's headers this soon after its first byte.
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=3600)
    #: A request's whole body must arrive this soon after its headers.
    body_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    #: ``/metrics`` wants ``Authorization: Bearer <this>``; unset = loopback clients only.
    metrics_token: SecretStr | None = None
    #: May users link calendar servers on private/local addresses? Unset: only outside
    #: production (a server must not probe its own network for whoever signs up).
    allow_private_calendar_urls: bool | None = None
    #: The oldest a linked calendar's busy times may be in ``dates``/``slots`` (seconds).
    calendar_sync_seconds: float = Field(default=300.0, ge=5, le=86400)
    #: Google OAuth client and endpoints (API.md "Calendars"); unset id = Google not offered.
    google_client_id: str | None = None
    google_client_secret: SecretStr | None = None
    google_auth_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    google_token_url: str = "https://oauth2.googleapis.com/token"
    google_api_url: str = "https://www.googleapis.com"
    google_userinfo_url: str = "https://openidconnect.googleapis.com/v1/userinfo"
    #: Microsoft identity platform client and endpoints; unset id = Microsoft not offered.
    microsoft_client_id: str | None = None
    microsoft_client_secret: SecretStr | None = None
    microsoft_authority: str = "https://login.microsoftonline.com/common"
    microsoft_graph_url: str = "https://graph.microsoft.com/v1.0"
    #: Room members may join a meeting's call this many minutes before its start ...
    video_early_minutes: int = Field(default=15, ge=0, le=24 * 60)
    #: ... until this many minutes after its end.
    video_grace_minutes: int = Field(default=30, ge=0, le=24 * 60)
    #: STUN/TURN URLs for the browsers (comma-separated, e.g. ``stun:stun.example:3478,
    #: turn:turn.example:3478?transport=udp``); none: host candidates (LAN, loopback).
    video_ice_urls: str = ""
    #: coturn ``static-auth-secret``: TURN URLs get short-lived REST-API credentials.
    video_turn_secret: SecretStr | None = None
    #: How long those TURN credentials last (seconds).
    video_turn_ttl_seconds: int = Field(default=6 * 3600, ge=60, le=7 * 86400)
    #: How often a node announces its video peers to the others; a node silent for three
    #: intervals has its peers dropped (a crashed node leaves no ghosts in calls).
    video_heartbeat_seconds: float = Field(default=10.0, ge=0.05, le=300)
    #: Outgoing e-mail (API.md "Notifications"); no host: ``.eml`` files under
    #: ``{data_dir}/mail/`` instead.
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    mail_from: str = "Parlay <parlay@localhost>"
    #: The Janus WebSocket API (``ws://127.0.0.1:8188``): video calls go through its
    #: VideoRoom (an SFU); unset: browsers connect to each other (mesh).
    janus_url: str | None = None
    #: Web Push (VAPID, RFC 8292): the application server's P-256 private key, as PEM or as
    #: base64url of the raw 32-byte scalar; unset: generated once into ``{data_dir}/vapid.pem``.
    vapid_private_key: SecretStr | None = None
    #: The VAPID ``sub`` claim: how a push service reaches the operator (``mailto:`` or
    #: ``https:``); unset: the base URL when it is https, else ``mailto:`` the mail sender.
    vapid_subject: str | None = None

    @field_validator(
        "google_client_id", "microsoft_client_id", "smtp_host", "smtp_username", "janus_url"
    )
    @classmethod
    def _empty_id_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator(
        "secret_key",
        "metrics_token",
        "google_client_secret",
        "microsoft_client_secret",
        "video_turn_secret",
        "smtp_password",
        "vapid_private_key",
    )
    @classmethod
    def _empty_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        # ``PARLAY_SECRET_KEY=`` outside production means "generate one into data_dir".
        return value if value is not None and value.get_secret_value() != "" else None

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: str) -> str:
        # Normalized for uvicorn's ProxyHeadersMiddleware, which takes only exact networks.
        networks = []
        for item in filter(None, (item.strip() for item in value.split(","))):
            try:
                networks.append(str(ipaddress.ip_network(item, strict=False)))
            except ValueError:
                raise ValueError(
                    f"PARLAY_TRUSTED_PROXIES takes IP addresses or CIDRs, not {item!r}"
                ) from None
        return ",".join(networks)

    @field_validator("now")
    @classmethod
    def _now_is_aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("PARLAY_NOW must carry an offset, e.g. 2026-12-01T09:00:00Z")
        return value.astimezone(UTC) if value is not None else None

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        if self.now is not None and self.env != "test":
            raise ValueError("PARLAY_NOW pins the clock and is refused unless PARLAY_ENV=test")
        key = self.secret_key.get_secret_value() if self.secret_key is not None else ""
        if self.env == "production" and len(key.strip()) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(
                f"PARLAY_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters when "
                "PARLAY_ENV=production; make one with: "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        if self.env == "production" and self.database_url == "":
            raise ValueError("PARLAY_DATABASE_URL is required when PARLAY_ENV=production")
        return self

    # --- derived values ---------------------------------------------------------------------
    @property
    def resolved_database_url(self) -> str:
        """The SQLAlchemy async URL (driver chosen here, never by the operator)."""
        url = self.database_url or f"sqlite:///{self.data_dir / 'parlay.db'}"
        return to_async_url(url)

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def private_calendar_urls_allowed(self) -> bool:
        if self.allow_private_calendar_urls is not None:
            return self.allow_private_calendar_urls
        return self.env != "production"

    @property
    def cookie_secure(self) -> bool:
        return self.env == "production"

    def for_listen_address(self, host: str, port: int) -> Settings:
        """These settings as ``parlay serve --host H --port P`` runs them: without an explicit
        ``PARLAY_BASE_URL`` (an empty one counts as unset), join links and calendar files
        point at the address the server listens on."""
        if "base_url" in self.model_fields_set and self.base_url.strip():
            return self
        return self.model_copy(update={"base_url": listen_url(host, port)})

    def resolved_secret_key(self) -> str:
        """The secret key; for the embedded default it is generated once into ``data_dir``."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.data_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


def listen_url(host: str, port: int) -> str:
    """The URL a browser on this machine uses to reach a server listening on ``host:port``
    (the wildcard addresses become loopback; IPv6 literals get brackets)."""
    host = host.strip().strip("[]")
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def to_async_url(url: str) -> str:
    """Map ``sqlite:///x`` and ``postgresql://...`` to their async drivers."""
    for prefix, driver in (
        ("sqlite+aiosqlite://", "sqlite+aiosqlite://"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql+asyncpg://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
    ):
        if url.startswith(prefix):
            return driver + url[len(prefix) :]
    raise ValueError(f"PARLAY_DATABASE_URL must be sqlite:///path or postgresql://...: {url!r}")
