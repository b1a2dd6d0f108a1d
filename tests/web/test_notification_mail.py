"""E-mail with calendar invitations (API.md "Notifications"), against a real SMTP server
(aiosmtpd) on both backends: after a booking every participant, the booker included, gets
exactly one message in their own zone whose ``.ics`` parses with ``icalendar`` (METHOD:REQUEST,
the meeting's UID and SEQUENCE, its times, ORGANIZER and ATTENDEEs); a reschedule sends a
higher SEQUENCE, a cancel METHOD:CANCEL; an SMTP server refusing connections delays the mail
and neither loses nor doubles it; without an SMTP host the messages are ``.eml`` files."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from typing import Any

import icalendar
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from parlay.db.scheduling_models import OutboxJob
from parlay.jobs.runner import Worker, WorkerConfig
from parlay.main import create_app
from parlay.services.notification_mail import MAIL_KIND
from parlay.settings import Settings
from tests.conftest import Person, sign_up_and_in
from tests.providers.conftest import free_port
from tests.web.test_scheduling import NOW, book, share


class Catcher:
    """The messages a real SMTP server accepted, parsed as a mail client would."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


def start_smtp(port: int) -> tuple[Controller, Catcher]:
    catcher = Catcher()
    controller = Controller(catcher, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, catcher


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def smtp(smtp_port: int) -> Iterator[Catcher]:
    controller, catcher = start_smtp(smtp_port)
    yield catcher
    controller.stop()


@pytest.fixture
def settings(make_settings: Any, smtp_port: int) -> Settings:
    return make_settings(
        now=NOW,
        base_url="https://parlay.example",
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        mail_from="Parlay <notify@parlay.example>",
    )


def worker(app: Any) -> Worker:
    """The app's handlers, retries due at once (the tests run jobs themselves)."""
    return Worker(
        app.state.ctx.db,
        app.state.container.handlers,
        user_clock=app.state.ctx.now,
        config=WorkerConfig(backoff_base_seconds=0.0),
    )


async def drain(app: Any, limit: int = 50) -> int:
    ran, w = 0, worker(app)
    while ran < limit and await w.run_one():
        ran += 1
    return ran


def invitation(message: EmailMessage) -> icalendar.Calendar | None:
    """The iMIP part a calendar-aware client reads (text/calendar), parsed; None if absent.
    The ``invite.ics`` attachment must then hold the same object."""
    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    if not parts:
        assert not any(p.get_filename() == "invite.ics" for p in message.walk())
        return None
    (part,) = parts
    body = part.get_content()
    calendar = icalendar.Calendar.from_ical(body)
    assert part.get_param("method") == calendar["METHOD"]
    (attached,) = [p for p in message.walk() if p.get_filename() == "invite.ics"]
    assert icalendar.Calendar.from_ical(attached.get_content()) == calendar
    return calendar


def text_of(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    return str(plain.get_content()), str(html.get_content())


def event_of(calendar: icalendar.Calendar) -> Any:
    (event,) = calendar.walk("VEVENT")
    return event


async def add_carol(alice: Person, room: dict[str, Any], carol: Person) -> None:
    r = await alice.client.post(f"/api/v1/rooms/{room['id']}/members", json={"email": carol.email})
    assert r.status_code in (200, 201, 204), r.text


async def test_every_participant_gets_one_invitation_per_change(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, carol: Person, smtp: Catcher
) -> None:
    await add_carol(alice, room, carol)
    invite = await share(alice, room["id"], duration=30)
    meeting = await book(bob, invite, "2026-12-01T08:00:00Z")
    assert smtp.messages == []  # never inside the request
    await drain(app)

    people = (alice, bob, carol)
    uid = f"{meeting['id']}@parlay"
    for person in people:  # the booker too
        (message,) = smtp.to(person.email)
        assert "notify@parlay.example" in str(message["From"])
        calendar = invitation(message)
        assert calendar is not None
        assert calendar["METHOD"] == "REQUEST"
        event = event_of(calendar)
        assert str(event["UID"]) == uid and int(event["SEQUENCE"]) == 0
        assert event.decoded("DTSTART").isoformat() == "2026-12-01T08:00:00+00:00"
        assert event.decoded("DTEND").isoformat() == "2026-12-01T08:30:00+00:00"
        assert str(event["ORGANIZER"]).lower() == "mailto:alice@example.com"
        attendees = {str(a).lower() for a in event["ATTENDEE"]}
        assert attendees == {"mailto:bob@example.com", "mailto:carol@example.com"}
        plain, html = text_of(message)
        assert meeting["join_url"] in plain and meeting["join_url"] in html
    # Times in each recipient's saved zone, in the text, the HTML and the subject.
    for person, local in ((alice, "09:00"), (bob, "03:00"), (carol, "17:00")):
        (message,) = smtp.to(person.email)
        plain, html = text_of(message)
        assert local in plain and local in html and local in str(message["Subject"])
    assert "Bob Brown booked" in text_of(smtp.to(alice.email)[0])[0]
    assert "You booked" in text_of(smtp.to(bob.email)[0])[0]

    r = await carol.client.post(
        f"/api/v1/meetings/{meeting['id']}/reschedule",
        json={"start": "2026-12-01T09:00:00Z", "reason": "train is late"},
    )
    assert r.status_code == 200, r.text
    await drain(app)
    for person in people:
        first, second = smtp.to(person.email)
        calendar = invitation(second)
        assert calendar is not None and calendar["METHOD"] == "REQUEST"
        event = event_of(calendar)
        assert str(event["UID"]) == uid and int(event["SEQUENCE"]) == 1
        assert event.decoded("DTSTART").isoformat() == "2026-12-01T09:00:00+00:00"
        assert "train is late" in text_of(second)[0]
        assert second["Message-ID"] != first["Message-ID"]

    r = await alice.client.post(f"/api/v1/meetings/{meeting['id']}/cancel", json={})
    assert r.status_code == 200, r.text
    await drain(app)
    for person in people:
        *_, last = smtp.to(person.email)
        assert len(smtp.to(person.email)) == 3
        calendar = invitation(last)
        assert calendar is not None and calendar["METHOD"] == "CANCEL"
        event = event_of(calendar)
        assert str(event["UID"]) == uid and int(event["SEQUENCE"]) == 2
        assert str(event["STATUS"]) == "CANCELLED"
    await drain(app)
    assert len(smtp.messages) == 9  # nothing more, ever


async def test_no_email_for_people_who_turned_it_off(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, smtp: Catcher
) -> None:
    r = await alice.client.patch("/api/v1/me/preferences", json={"email": False})
    assert r.status_code == 200, r.text
    await book(bob, await share(alice, room["id"], duration=30), "2026-12-01T08:00:00Z")
    await drain(app)
    assert smtp.to(alice.email) == [] and len(smtp.to(bob.email)) == 1


async def mail_jobs(app: Any) -> list[OutboxJob]:
    async with app.state.ctx.db.read() as session:
        rows = await session.scalars(select(OutboxJob).where(OutboxJob.kind == MAIL_KIND))
        return list(rows)


async def test_smtp_down_during_booking_then_back_each_arrives_once(
    app: Any, room: dict[str, Any], alice: Person, bob: Person, smtp_port: int
) -> None:
    """Nothing listens on the SMTP port while Bob books and the worker tries; the mail waits
    (past the worker's quick retries, in a deferred job), then each message arrives once."""
    meeting = await book(bob, await share(alice, room["id"], duration=30), "2026-12-01T08:00:00Z")
    await drain(app, limit=40)  # every quick retry fails; then the jobs defer
    jobs = await mail_jobs(app)
    pending = [j for j in jobs if j.status == "pending"]
    assert len(pending) == 2 and all(j.payload.get("deferred") == 1 for j in pending)
    assert not [j for j in jobs if j.status == "dead"]

    controller, catcher = start_smtp(smtp_port)
    try:
        async with app.state.ctx.db.write() as session:  # fast-forward the 15 minutes' wait
            for job in pending:
                row = await session.get(OutboxJob, job.id)
                assert row is not None
                row.run_after = row.created_at
        await drain(app)
        await drain(app)
        for person in (alice, bob):
            (message,) = catcher.to(person.email)
            calendar = invitation(message)
            assert calendar is not None
            assert str(event_of(calendar)["UID"]) == f"{meeting['id']}@parlay"
        assert len(catcher.messages) == 2
    finally:
        controller.stop()


async def test_without_an_smtp_host_messages_are_eml_files(make_settings: Any) -> None:
    settings = make_settings(now=NOW)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        alice = await sign_up_and_in(application, "alice")
        bob = await sign_up_and_in(application, "bob")
        r = await alice.client.post(
            "/api/v1/rooms", json={"title": "A & B", "member_emails": [bob.email]}
        )
        room = r.json()
        await book(bob, await share(alice, room["id"], duration=30), "2026-12-01T08:00:00Z")
        await drain(application)
        await drain(application)
        for person in (alice, bob):
            await person.client.aclose()
    files = sorted((settings.data_dir / "mail").glob("*.eml"))
    assert len(files) == 2
    parsed = [email.message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    assert sorted(str(m["To"]).split("<")[1].rstrip(">") for m in parsed) == [
        "alice@example.com",
        "bob@example.com",
    ]
    for message in parsed:
        assert isinstance(message, EmailMessage)
        calendar = invitation(message)
        assert calendar is not None and calendar["METHOD"] == "REQUEST"
