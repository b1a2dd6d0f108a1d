"""Assembling a notification e-mail (RFC 5322 + MIME), with its calendar invitation.

The layout is the one calendar-aware mail clients look for (RFC 6047 section 2.4, and what
Google Calendar and Outlook themselves send)::

    multipart/mixed
      multipart/alternative
        text/plain
        text/html
        text/calendar; method=REQUEST|CANCEL   <- read by Gmail, Outlook, Apple Mail
      application/ics; name=invite.ics         <- the same object, for everyone else

The Message-ID is given by the caller and derived from what the message is about (change,
recipient), so a retried send carries the same one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr


@dataclass(frozen=True)
class Invitation:
    ics: bytes
    method: str  # REQUEST | CANCEL


@dataclass(frozen=True)
class Outgoing:
    message_id: str
    sender: str
    to_name: str
    to_email: str
    subject: str
    text: str
    html: str
    date: datetime
    invitation: Invitation | None = None


def mail_domain(sender: str) -> str:
    """The domain of the sender's address, for Message-IDs (``parlay.invalid`` if none)."""
    address = parseaddr(sender)[1]
    return address.rpartition("@")[2] or "parlay.invalid"


def compose(out: Outgoing) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = out.subject
    message["From"] = out.sender
    message["To"] = Address(display_name=out.to_name, addr_spec=out.to_email)
    message["Date"] = format_datetime(out.date)
    message["Message-ID"] = out.message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to us
    message.set_content(out.text)
    message.add_alternative(out.html, subtype="html")
    if out.invitation is not None:
        ics = out.invitation.ics.decode("utf-8")
        message.add_alternative(ics, subtype="calendar", params={"method": out.invitation.method})
        message.add_attachment(
            out.invitation.ics, maintype="application", subtype="ics", filename="invite.ics"
        )
    return message
