"""Handing a finished message on: to an SMTP server (aiosmtplib), or, with no SMTP host
configured, into a folder of ``.eml`` files (a development machine, the demo).

Senders say how a failure should be treated and nothing more: ``MailDeferred`` when trying
again later can help (the server is down, busy, or answered 4xx), ``MailRejected`` when it
cannot (the server refused the recipient for good, 5xx).  Retrying is the outbox's business.

Once an SMTP server has accepted a message (its 250 after DATA), it is delivered; if that reply
is lost on the way back (connection cut, timeout), we cannot know and the retry sends it again.
That is the one way a message can arrive twice; it keeps its Message-ID, by which mail clients
and Gmail recognise the copy.  The file sender names each file after the Message-ID and
replaces it atomically, so there a retry never makes a second copy.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib

#: How long one SMTP conversation may take before it counts as a failure to retry.
SMTP_TIMEOUT_SECONDS = 30.0


class MailError(Exception):
    pass


class MailDeferred(MailError):
    """Not sent now; the same message may be tried again later."""


class MailRejected(MailError):
    """Refused for good (a 5xx answer about the recipient): trying again cannot help."""


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...

    def describe(self) -> str:
        """Where messages go, for the operator (``smtp://host:port`` or a folder)."""
        ...


@dataclass(frozen=True)
class SmtpMailer:
    host: str
    port: int = 25
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = SMTP_TIMEOUT_SECONDS

    def describe(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    async def send(self, message: EmailMessage) -> None:
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username or None,
                password=self.password if self.username else None,
                start_tls=self.starttls,
                use_tls=False,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refusal.code for refusal in exc.recipients]
            if codes and all(500 <= code < 600 for code in codes):
                raise MailRejected(f"recipients refused: {codes}") from None
            raise MailDeferred(f"recipients deferred: {codes}") from None
        except aiosmtplib.SMTPResponseException as exc:
            # 5xx outside the recipient (sender refused, auth, size) is this server's setup,
            # which an operator can fix: keep the message and try again.
            raise MailDeferred(f"SMTP {exc.code}: {exc.message}") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise MailDeferred(f"SMTP unreachable: {type(exc).__name__}: {exc}") from None


def file_name(message: EmailMessage) -> str:
    """A file name from the Message-ID: the same message always lands in the same file."""
    message_id = str(message.get("Message-ID", "")).strip("<> ")
    safe = re.sub(r"[^A-Za-z0-9._@-]", "_", message_id)[:200]
    return f"{safe or 'message'}.eml"


@dataclass(frozen=True)
class FileMailer:
    folder: Path

    def describe(self) -> str:
        return str(self.folder)

    async def send(self, message: EmailMessage) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".eml")
            with os.fdopen(fd, "wb") as out:
                out.write(message.as_bytes())
            os.replace(temp, self.folder / file_name(message))
        except OSError as exc:
            raise MailDeferred(f"cannot write {self.folder}: {exc}") from None
