"""``parlay dev`` (what ``make run`` runs): the demo people, the calendar emulators, the server.

The emulators start first and come up while the database migrates and the demo people are
created, so the cold start stays short; they stop with the server (and with this process,
however it ends).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from parlay import devstack
from parlay.db.migrate import upgrade
from parlay.demo import DEMO_PASSWORD, PEOPLE, seed_demo
from parlay.settings import Settings


def mail_folder(settings: Settings) -> Path:
    return (settings.data_dir / "mail").resolve()


def run(
    host: str, port: int, serve: Callable[[str, int], None], echo: Callable[[str], None]
) -> None:
    devstack.die_with_parent()  # `make run` killed: the server stops, and the emulators with it
    base_url = Settings().for_listen_address(host, port).base_url
    emulators: dict[devstack.Kind, devstack.Emulator] = {}
    try:
        for kind in ("google", "microsoft"):
            emulators[kind] = devstack.start(kind)
        settings = Settings()
        upgrade(settings.resolved_database_url)
        asyncio.run(seed_demo(settings))
        for emulator in emulators.values():
            devstack.wait_up(emulator)
        google, microsoft = emulators["google"], emulators["microsoft"]
        os.environ.update(devstack.settings_env(google, microsoft, base_url))
        busy = devstack.seed_people(emulators, PEOPLE, datetime.now(UTC))
        echo("==> demo people (sign in with any of them):")
        for email, _, _ in PEOPLE:
            echo(f"  {email}  password: {DEMO_PASSWORD}")
        echo(f"==> calendar emulators: Google {google.url}, Microsoft {microsoft.url}")
        for line in busy:
            echo(line)
        echo(
            "==> Connect Google Calendar: sign in as alice, open the room, click the calendar "
            "icon, then consent as alice@example.com in the emulator (Allow). Microsoft works "
            "the same way (Accept)."
        )
        if settings.smtp_host:
            echo(f"==> e-mail goes to smtp://{settings.smtp_host}:{settings.smtp_port}")
        else:  # no SMTP host: every notification e-mail is a file to open in a mail client
            echo(f"==> e-mail (invitations, reminders): .eml files in {mail_folder(settings)}/")
        echo(f"==> open {base_url}/ (Ctrl-C stops the server and the emulators)")
        serve(host, port)
    finally:
        for emulator in emulators.values():
            emulator.stop()
