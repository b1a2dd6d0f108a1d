"""The demo's SMTP catcher (``parlay dev``): a local aiosmtpd server that keeps every message.

``make run`` should show the e-mails the demo sends (invitations with their ``.ics``,
reminders) the way they travel in production: over SMTP, through the outbox.  The catcher
accepts anything on 127.0.0.1 and writes each message, as received, to a ``.eml`` file that any
mail client opens.  It runs on a thread of the ``parlay dev`` process and stops with it.
"""

from __future__ import annotations

import itertools
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"
PORT = 8025


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
        return True


def pick_port(preferred: int = PORT) -> int:
    """``preferred`` when it is free, else any free port."""
    if _free(preferred):
        return preferred
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class EmlWriter:
    """aiosmtpd handler: each accepted message becomes ``<UTC time>-<n>.eml`` in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._numbers = itertools.count(1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = self.folder / f"{stamp}-{next(self._numbers):04d}.eml"
        content = envelope.original_content or envelope.content
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return "250 Message accepted for delivery"


@dataclass
class MailCatcher:
    folder: Path
    port: int
    controller: Controller

    @property
    def env(self) -> dict[str, str]:
        """The settings that point Parlay's e-mail at the catcher."""
        return {"PARLAY_SMTP_HOST": HOST, "PARLAY_SMTP_PORT": str(self.port)}

    def stop(self) -> None:
        self.controller.stop()


def start(folder: Path, port: int | None = None) -> MailCatcher:
    """Serve SMTP on 127.0.0.1 (8025 if free) into ``folder`` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    chosen = pick_port() if port is None else port
    controller = Controller(EmlWriter(folder), hostname=HOST, port=chosen)
    controller.start()
    return MailCatcher(folder=folder.resolve(), port=chosen, controller=controller)
