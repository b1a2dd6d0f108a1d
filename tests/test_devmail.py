"""``make run``'s SMTP catcher (``parlay.devmail``): what Parlay sends over SMTP lands, byte
for byte, as one ``.eml`` file per message that a mail client opens."""

from __future__ import annotations

import email
import socket
from email import policy
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

from parlay import devmail
from tests.providers.conftest import free_port


async def test_each_message_becomes_one_eml_file(tmp_path: Path) -> None:
    folder = tmp_path / "mail-catcher"
    catcher = devmail.start(folder, port=free_port())
    try:
        assert catcher.env == {
            "PARLAY_SMTP_HOST": "127.0.0.1",
            "PARLAY_SMTP_PORT": str(catcher.port),
        }
        for n in (1, 2):
            message = EmailMessage()
            message["From"] = "parlay@example.com"
            message["To"] = "bob@example.com"
            message["Subject"] = f"Meeting scheduled {n}"
            message.set_content("See you there.")
            message.add_attachment(
                b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n",
                maintype="text",
                subtype="calendar",
                filename="invite.ics",
            )
            await aiosmtplib.send(message, hostname="127.0.0.1", port=catcher.port)
    finally:
        catcher.stop()
    files = sorted(folder.glob("*.eml"))
    assert len(files) == 2
    read = [email.message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    assert [m["Subject"] for m in read] == ["Meeting scheduled 1", "Meeting scheduled 2"]
    (ics,) = [p for p in read[0].walk() if p.get_filename() == "invite.ics"]
    assert b"METHOD:REQUEST" in ics.get_payload(decode=True)


def test_a_taken_port_gives_another() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert devmail.pick_port(port) != port
