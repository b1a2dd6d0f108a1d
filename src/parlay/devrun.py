"""``parlay dev`` (what ``make run`` runs): the demo people, the calendar emulators, the server.

The emulators start first and come up while the database migrates and the demo people are
created, so the cold start stays short; they stop with the server (and with this process,
however it ends).  Unless ``PARLAY_SMTP_HOST`` is set, a local SMTP catcher
(``parlay.devmail``) receives the demo's e-mail and keeps each message as a ``.eml`` file.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from parlay import devmail, devstack
from parlay.db.migrate import upgrade
from parlay.demo import DEMO_PASSWORD, PEOPLE, seed_demo
from parlay.settings import Settings


def catcher_folder(settings: Settings) -> Path:
    return (settings.data_dir / "mail-catcher").resolve()


def run(
    host: str, port: int, serve: Callable[[str, int], None], echo: Callable[[str], None]
) -> None:
    devstack.die_with_parent()  # `make run` killed: the server stops, and the emulators with it
    base_url = Settings().for_listen_address(host, port).base_url
    emulators: dict[devstack.Kind, devstack.Emulator] = {}
    catcher: devmail.MailCatcher | None = None
    try:
        for kind in ("google", "microsoft"):
            emulators[kind] = devstack.start(kind)
        if not Settings().smtp_host:  # the operator's own SMTP server wins
            catcher = devmail.start(catcher_folder(Settings()))
            os.environ.update(catcher.env)  # read by the server's Settings
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
        if catcher is not None:
            echo(
                f"==> e-mail (invitations, reminders): caught by the SMTP catcher on "
                f"smtp://127.0.0.1:{catcher.port}, each message a .eml file in {catcher.folder}/"
            )
        else:
            echo(f"==> e-mail goes to smtp://{settings.smtp_host}:{settings.smtp_port}")
        echo(f"==> open {base_url}/ (Ctrl-C stops the server and the emulators)")
        serve(host, port)
    finally:
        for emulator in emulators.values():
            emulator.stop()
        if catcher is not None:
            catcher.stop()
