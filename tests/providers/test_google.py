"""The Google adapter against the Google emulator over real HTTP: identity, busy times as
rule 1 reads them, incremental sync, the meeting's event exactly once, and every failure
mapped to the taxonomy (refresh on 401 through the injected callback)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from parlay.providers.dto import BusyEvent, EventRef, MeetingEvent, blocking_events
from parlay.providers.errors import (
    AuthExpired,
    InvalidCredentials,
    NotSupported,
    RateLimited,
    Transient,
)
from parlay.providers.google_events import event_ids
from tests.providers.google_fixtures import (  # noqa: F401 - fixtures
    GoogleEmulator,
    google_fixture,
    google_server_fixture,
)

ALICE = "alice@example.com"
MONDAY = datetime(2031, 5, 5, tzinfo=UTC)
WINDOW = (MONDAY, MONDAY + timedelta(days=7))
MEETING_ID = "0b5e1c7a-9d2f-4e8b-a1c3-5f6e7d8c9b0a"


# The emulator expands recurring events of a sync only up to a year ahead, like a real
# calendar's near future: the sync test lives in the coming weeks.
SOON = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=14)


def at(day: int, hour: int, minute: int = 0, *, base: datetime = MONDAY) -> datetime:
    return base + timedelta(days=day, hours=hour, minutes=minute)


def local(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def timed(event_id: str, start: datetime, end: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "summary": event_id,
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": end.isoformat()},
        **extra,
    }


def meeting(day: int = 1, hour: int = 10) -> MeetingEvent:
    start = at(day, hour)
    return MeetingEvent(
        meeting_id=MEETING_ID,
        title="Intro call",
        start=start,
        end=start + timedelta(minutes=30),
        description="Join: https://parlay.example/m/abc",
        location="https://parlay.example/m/abc",
        url="https://parlay.example/m/abc",
    )


def live(google: GoogleEmulator, calendar_id: str = ALICE) -> list[dict[str, Any]]:
    return [e for e in google.stored(calendar_id) if e["status"] != "cancelled"]


class UserAgent:
    """The account's owner changing their calendar in Google's UI (plain API calls)."""

    def __init__(self, google: GoogleEmulator, email: str) -> None:
        token = google.tokens(email)["access_token"]
        self.http = httpx.Client(
            base_url=f"{google.url}/calendar/v3/calendars/{email}/events",
            headers={"Authorization": f"Bearer {token}"},
        )

    def patch(self, event_id: str, body: dict[str, Any]) -> None:
        self.http.patch(f"/{event_id}", json=body).raise_for_status()

    def delete(self, event_id: str) -> None:
        self.http.delete(f"/{event_id}").raise_for_status()


# ---- identity and calendars -------------------------------------------------------------------


async def test_link_names_the_account_and_lists_every_calendar(google: GoogleEmulator) -> None:
    google.account(ALICE, "Europe/Berlin")
    work = google.calendar(ALICE, "Work")
    linked = await google.provider(ALICE).link()
    assert linked.account_email == ALICE
    by_id = {c.external_id: c for c in linked.calendars}
    assert set(by_id) == {ALICE, work}
    assert by_id[ALICE].primary and not by_id[work].primary
    assert by_id[work].name == "Work"


async def test_account_email_falls_back_to_the_primary_calendar(google: GoogleEmulator) -> None:
    google.account(ALICE)
    provider = google.provider(ALICE)
    tokens = google.tokens(ALICE, scope="https://www.googleapis.com/auth/calendar")
    provider._credentials = type(provider.credentials)(access_token=tokens["access_token"])
    assert await provider.account_email() == ALICE


async def test_link_with_a_dead_token_is_invalid_credentials(google: GoogleEmulator) -> None:
    google.account(ALICE)
    provider = google.provider(ALICE, refresh=False)
    google.post("/_emulator/revoke", {"account": ALICE})
    with pytest.raises(InvalidCredentials):
        await provider.link()


# ---- busy times -------------------------------------------------------------------------------


async def test_busy_events_read_each_kind_of_event_as_rule_1_needs(google: GoogleEmulator) -> None:
    google.account(ALICE, "Europe/Berlin")
    me_as = lambda answer: {  # noqa: E731
        "attendees": [
            {"email": ALICE, "responseStatus": answer},
            {"email": "bob@example.com", "responseStatus": "accepted"},
        ]
    }
    google.seed(ALICE, timed("blocked1", at(0, 9), at(0, 10)))
    google.seed(
        ALICE, {"id": "fulldate1", "start": {"date": "2031-05-06"}, "end": {"date": "2031-05-07"}}
    )
    google.seed(ALICE, timed("free1", at(0, 11), at(0, 12), transparency="transparent"))
    google.seed(ALICE, timed("declined1", at(0, 13), at(0, 14), **me_as("declined")))
    google.seed(ALICE, timed("tentative1", at(0, 14), at(0, 15), **me_as("tentative")))
    google.seed(ALICE, timed("pending1", at(0, 15), at(0, 16), **me_as("needsAction")))
    google.seed(ALICE, timed("pencil1", at(0, 16), at(0, 17), status="tentative"))
    google.seed(ALICE, timed("gone1", at(0, 17), at(0, 18), status="cancelled"))
    google.seed(ALICE, timed("later1", at(9, 9), at(9, 10)))
    own = {"private": {"parlayMeetingId": "m-42"}}
    google.seed(ALICE, timed("ours1", at(1, 9), at(1, 10), extendedProperties=own))
    google.seed(
        ALICE,
        {
            "id": "series1",
            "start": {"dateTime": "2031-04-22T08:00:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2031-04-22T08:30:00", "timeZone": "Europe/Berlin"},
            "recurrence": ["RRULE:FREQ=DAILY;COUNT=16"],
        },
    )

    events = await google.provider(ALICE).busy_events(ALICE, *WINDOW)
    by_uid = {e.uid: e for e in events}
    assert "gone1" not in by_uid and "later1" not in by_uid
    assert by_uid["blocked1"] == BusyEvent(at(0, 9), at(0, 10), uid="blocked1")
    allday = by_uid["fulldate1"]  # midnight to midnight in Berlin (UTC+2 in May)
    assert allday.all_day and (allday.start, allday.end) == (at(0, 22), at(1, 22))
    assert by_uid["free1"].transparent
    assert by_uid["declined1"].declined
    assert {by_uid[u].status for u in ("tentative1", "pending1", "pencil1")} == {"tentative"}
    assert by_uid["ours1"].parlay_meeting_id == "m-42"
    daily = sorted(e.start for e in events if (e.uid or "").startswith("series1_"))
    assert daily == [at(d, 6) for d in range(3)]  # 08:00 Berlin, the last three of sixteen

    blocking = {e.uid for e in blocking_events(events)}
    expected = {"blocked1", "fulldate1", "tentative1", "pending1", "pencil1"}
    assert blocking - {u for u in blocking if u and u.startswith("series1_")} == expected


async def test_all_day_events_follow_each_calendars_own_zone(google: GoogleEmulator) -> None:
    google.account(ALICE, "Europe/Berlin")
    tokyo = google.calendar(ALICE, "Tokyo office", "Asia/Tokyo")
    google.seed(
        tokyo, {"id": "publicdate1", "start": {"date": "2031-05-06"}, "end": {"date": "2031-05-07"}}
    )
    (event,) = await google.provider(ALICE).busy_events(tokyo, *WINDOW)
    assert (event.start, event.end) == (at(0, 15), at(1, 15))  # Tokyo midnight is 15:00 UTC


async def test_every_page_is_read(google: GoogleEmulator) -> None:
    google.account(ALICE)
    for n in range(5):
        google.seed(ALICE, timed(f"event{n}", at(n, 9), at(n, 10)))
    provider = google.provider(ALICE)
    provider.page_size = 2

    assert len(await provider.busy_events(ALICE, *WINDOW)) == 5
    synced = await provider.sync_busy(ALICE, *WINDOW)
    assert set(synced.changed) == {f"event{n}" for n in range(5)} and synced.next_token
    paged = [r for r in google.requests("calendar.events.list") if "pageToken" in r["query"]]
    assert len(paged) == 4  # two follow-up pages for each of the two reads


# ---- incremental sync -------------------------------------------------------------------------


async def test_incremental_sync_follows_adds_moves_and_deletes(google: GoogleEmulator) -> None:
    window = (SOON, SOON + timedelta(days=7))

    def at(day: int, hour: int) -> datetime:
        return SOON + timedelta(days=day, hours=hour)

    google.account(ALICE)
    google.seed(ALICE, timed("remains1", at(0, 9), at(0, 10)))
    google.seed(ALICE, timed("moves", at(1, 9), at(1, 10)))
    google.seed(ALICE, timed("deleted1", at(2, 9), at(2, 10)))
    series = {
        "id": "standup",
        "start": {"dateTime": local(at(0, 7)), "timeZone": "UTC"},
        "end": {"dateTime": local(at(0, 7) + timedelta(minutes=15)), "timeZone": "UTC"},
        "recurrence": ["RRULE:FREQ=DAILY;COUNT=3"],
    }
    google.seed(ALICE, series)
    provider = google.provider(ALICE)

    first = await provider.sync_busy(ALICE, *window)
    assert first.full and first.next_token
    assert set(first.changed) == {"remains1", "moves", "deleted1", "standup"}
    assert [e.start for e in first.changed["standup"]] == [at(d, 7) for d in range(3)]

    user = UserAgent(google, ALICE)
    user.patch(
        "moves",
        {"start": {"dateTime": at(1, 14).isoformat()}, "end": {"dateTime": at(1, 15).isoformat()}},
    )
    user.delete("deleted1")
    google.seed(ALICE, timed("added", at(3, 9), at(3, 10)))
    google.seed(ALICE, timed("farout1", at(40, 9), at(40, 10)))
    user.patch(
        "standup",
        {
            "start": {"dateTime": local(at(0, 8)), "timeZone": "UTC"},
            "end": {"dateTime": local(at(0, 8) + timedelta(minutes=15)), "timeZone": "UTC"},
        },
    )

    second = await provider.sync_busy(ALICE, *window, first.next_token)
    assert not second.full and second.next_token
    assert second.removed == {"deleted1"}
    assert [(e.start, e.end) for e in second.changed["moves"]] == [(at(1, 14), at(1, 15))]
    assert [e.start for e in second.changed["added"]] == [at(3, 9)]
    assert second.changed["farout1"] == ()  # outside the window: nothing to keep
    assert [e.start for e in second.changed["standup"]] == [at(d, 8) for d in range(3)]
    assert "remains1" not in second.changed

    user.delete("standup")
    third = await provider.sync_busy(ALICE, *window, second.next_token)
    assert third.removed == {"standup"} and not third.changed


async def test_an_expired_sync_token_means_a_full_sync(google: GoogleEmulator) -> None:
    google.account(ALICE)
    google.seed(ALICE, timed("first1", at(0, 9), at(0, 10)))
    provider = google.provider(ALICE)
    first = await provider.sync_busy(ALICE, *WINDOW)
    google.seed(ALICE, timed("second1", at(1, 9), at(1, 10)))
    google.post(f"/_emulator/calendars/{ALICE}/invalidate-sync-tokens")

    again = await provider.sync_busy(ALICE, *WINDOW, first.next_token)
    assert again.full and set(again.changed) == {"first1", "second1"}
    assert again.next_token and again.next_token != first.next_token
    statuses = [r["status"] for r in google.requests("calendar.events.list")]
    assert statuses[-2:] == [410, 200]


# ---- the meeting's event ----------------------------------------------------------------------


async def test_create_update_delete_under_the_id_derived_from_the_meeting(
    google: GoogleEmulator,
) -> None:
    google.account(ALICE)
    provider = google.provider(ALICE)
    derived = "p" + MEETING_ID.replace("-", "")

    ref = await provider.create_event(ALICE, meeting(hour=10))
    assert ref.external_id == derived
    (stored,) = live(google)
    assert stored["id"] == derived and stored["summary"] == "Intro call"
    assert stored["location"] == "https://parlay.example/m/abc"
    assert "https://parlay.example/m/abc" in stored["description"]
    assert stored["extendedProperties"]["private"]["parlayMeetingId"] == MEETING_ID
    writes = google.requests("calendar.events.insert")
    assert writes[-1]["query"]["sendUpdates"] == "none"

    (seen,) = await provider.busy_events(ALICE, *WINDOW)
    assert seen.parlay_meeting_id == MEETING_ID and blocking_events([seen]) == []

    await provider.update_event(ALICE, meeting(hour=15), ref)
    (moved,) = live(google)
    assert moved["start"]["dateTime"].startswith("2031-05-06T15:00")
    assert google.requests("calendar.events.patch")[-1]["query"]["sendUpdates"] == "none"

    await provider.delete_event(ALICE, MEETING_ID, ref)
    assert live(google) == []
    await provider.delete_event(ALICE, MEETING_ID, ref)  # already gone (410): fine
    await provider.delete_event(ALICE, "never-written", None)  # never there (404): fine


async def test_a_create_whose_answer_was_lost_is_retried_into_one_event(
    google: GoogleEmulator,
) -> None:
    google.account(ALICE)
    provider = google.provider(ALICE)
    google.fault("calendar.events.insert", 503, after=True)
    with pytest.raises(Transient):
        await provider.create_event(ALICE, meeting(hour=10))
    assert len(live(google)) == 1  # Google stored it; we never heard

    ref = await provider.create_event(ALICE, meeting(hour=11))  # the retry, latest state
    assert [r["status"] for r in google.requests("calendar.events.insert")][-1] == 409
    (stored,) = live(google)
    assert stored["id"] == ref.external_id
    assert stored["start"]["dateTime"].startswith("2031-05-06T11:00")


async def test_an_event_deleted_in_google_comes_back_once_on_update(
    google: GoogleEmulator,
) -> None:
    google.account(ALICE)
    provider = google.provider(ALICE)
    ref = await provider.create_event(ALICE, meeting(hour=10))
    UserAgent(google, ALICE).delete(ref.external_id)

    again = await provider.update_event(ALICE, meeting(hour=12), ref)
    again = await provider.update_event(ALICE, meeting(hour=13), again)
    (stored,) = live(google)
    assert stored["id"] == again.external_id and again.external_id in event_ids(MEETING_ID)
    assert stored["start"]["dateTime"].startswith("2031-05-06T13:00")

    await provider.delete_event(ALICE, MEETING_ID, None)  # finds the live one without a ref
    assert live(google) == []


async def test_writing_to_a_missing_calendar_is_not_found(google: GoogleEmulator) -> None:
    from parlay.providers.errors import NotFound

    google.account(ALICE)
    with pytest.raises(NotFound):
        await google.provider(ALICE).update_event("nobody@example.com", meeting(), EventRef("x"))


# ---- failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason"), [(429, None), (403, "rateLimitExceeded"), (403, "userRateLimitExceeded")]
)
async def test_rate_limits_carry_retry_after(
    google: GoogleEmulator, status: int, reason: str | None
) -> None:
    google.account(ALICE)
    provider = google.provider(ALICE)
    google.fault("calendar.events.list", status, retry_after=7, reason=reason)
    with pytest.raises(RateLimited) as caught:
        await provider.busy_events(ALICE, *WINDOW)
    assert caught.value.retry_after == 7.0


async def test_a_forbidden_write_is_not_supported(google: GoogleEmulator) -> None:
    google.account(ALICE)
    provider = google.provider(ALICE)
    google.fault("calendar.events.insert", 403, reason="forbidden")
    with pytest.raises(NotSupported):
        await provider.create_event(ALICE, meeting())


async def test_server_errors_are_transient_and_pass(google: GoogleEmulator) -> None:
    google.account(ALICE)
    provider = google.provider(ALICE)
    google.fault("calendar.events.list", 500)
    with pytest.raises(Transient):
        await provider.busy_events(ALICE, *WINDOW)
    assert await provider.busy_events(ALICE, *WINDOW) == []


async def test_an_unreachable_server_is_transient(google: GoogleEmulator) -> None:
    google.account(ALICE)
    provider = google.provider(ALICE)
    provider._v3 = "http://127.0.0.1:9/calendar/v3"  # nothing listens on the discard port
    with pytest.raises(Transient):
        await provider.busy_events(ALICE, *WINDOW)


async def test_an_expired_access_token_is_refreshed_once_then_works(
    google: GoogleEmulator,
) -> None:
    google.account(ALICE)
    google.seed(ALICE, timed("blocked1", at(0, 9), at(0, 10)))
    provider = google.provider(ALICE)
    before = provider.credentials.access_token
    google.post("/_emulator/clock", {"advance_seconds": 3700})  # the access token expires

    events = await provider.busy_events(ALICE, *WINDOW)
    assert [e.uid for e in events] == ["blocked1"]
    assert provider.credentials.access_token != before
    statuses = [r["status"] for r in google.requests("calendar.events.list")]
    assert statuses == [401, 200]
    assert [r["status"] for r in google.requests("oauth.token")][-1] == 200


async def test_a_revoked_grant_surfaces_as_auth_expired(google: GoogleEmulator) -> None:
    google.account(ALICE)
    provider = google.provider(ALICE)
    google.post("/_emulator/revoke", {"account": ALICE})
    with pytest.raises(AuthExpired):
        await provider.busy_events(ALICE, *WINDOW)
    assert [r["status"] for r in google.requests("oauth.token")][-1] == 400


async def test_an_injected_transport_is_used_and_left_open(google: GoogleEmulator) -> None:
    google.account(ALICE)
    transport = httpx.AsyncHTTPTransport()
    provider = google.provider(ALICE, transport=transport)
    assert await provider.account_email() == ALICE
    assert await provider.list_calendars()  # the same transport, still usable
    await transport.aclose()


# ---- pure pieces ------------------------------------------------------------------------------


def test_derived_ids_are_valid_google_ids_and_distinct() -> None:
    import re

    valid = re.compile(r"^[a-v0-9]{5,1024}$")
    uuid_ids = event_ids(MEETING_ID)
    assert uuid_ids[0] == "p" + MEETING_ID.replace("-", "")
    odd_ids = event_ids("Meeting #42 (Zürich)")  # not hex: hashed, still stable
    assert odd_ids == event_ids("Meeting #42 (Zürich)")
    for ids in (uuid_ids, odd_ids):
        assert all(valid.match(i) for i in ids) and len(set(ids)) == len(ids)


def test_retry_after_reads_seconds_and_http_dates() -> None:
    from parlay.providers.google_http import retry_after

    assert retry_after("120") == 120.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: now
    assert (
        3500
        < (
            retry_after(
                (datetime.now(UTC) + timedelta(hours=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
            )
            or 0
        )
        <= 3600
    )
    assert retry_after("soon") is None and retry_after(None) is None
