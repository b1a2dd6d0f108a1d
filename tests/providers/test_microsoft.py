"""The Microsoft Graph adapter against the Microsoft emulator, served in-process over real HTTP.

Accounts sign in through the emulator's own authorize/consent/token endpoints, and the refresh
callback is Parlay's real OAuth client, so a 401 exercises the whole refresh path.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from parlay.providers.dto import BusyEvent, EventRef, MeetingEvent, blocking_events
from parlay.providers.errors import (
    AuthExpired,
    MailboxNotSupported,
    NotFound,
    RateLimited,
    Transient,
    Unreachable,
)
from parlay.providers.microsoft import MicrosoftProvider
from parlay.providers.microsoft_events import busy_event, zone_named
from parlay.providers.registry import provider_class
from tests.providers.microsoft_fixtures import (  # noqa: F401 - fixtures
    add_account,
    alice_fixture,
    base,
    calendar_ids,
    control_fixture,
    emulator_fixture,
    fault,
    provider_for,
    requests_log,
    revoke,
    seed,
    sign_in,
    stored,
)

CLIENT = "parlay-test-client"
REDIRECT = "http://127.0.0.1:9/oauth/microsoft/callback"
SCOPES = "openid email offline_access User.Read Calendars.ReadWrite"
DAY = datetime(2031, 3, 4, tzinfo=UTC)
WINDOW = (DAY, DAY + timedelta(days=1))


def meeting(hour: int, title: str = "Meeting: Alice and Bob") -> MeetingEvent:
    start = DAY + timedelta(hours=hour)
    return MeetingEvent(
        "m-1",
        title,
        start,
        start + timedelta(hours=1),
        description="Join: https://parlay.test/m/tok",
        url="https://parlay.test/m/tok",
    )


def test_registered_under_microsoft() -> None:
    assert provider_class("microsoft") is MicrosoftProvider


# ---- identity and calendars -------------------------------------------------------------------


async def test_link_names_the_mailbox_and_marks_the_default_calendar_primary(
    control: httpx.Client, alice: MicrosoftProvider
) -> None:
    linked = await alice.link()
    assert linked.account_email == "alice@outlook.com"
    assert sorted((c.name, c.primary) for c in linked.calendars) == [
        ("Calendar", True),
        ("Holidays", False),
    ]
    assert {c.name: c.external_id for c in linked.calendars} == calendar_ids(control)


async def test_an_account_without_mail_is_named_by_its_user_principal_name(
    control: httpx.Client,
) -> None:
    add_account(control, "bob@contoso.onmicrosoft.com", mail=None, kind="work")
    bob = provider_for(control, sign_in(control, "bob@contoso.onmicrosoft.com"))
    assert await bob.account_email() == "bob@contoso.onmicrosoft.com"


async def test_an_on_premises_mailbox_cannot_be_linked(control: httpx.Client) -> None:
    add_account(control, "carol@contoso.com", kind="work", on_premises=True)
    carol = provider_for(control, sign_in(control, "carol@contoso.com"))
    with pytest.raises(MailboxNotSupported) as refused:
        await carol.link()
    assert "mailbox" in str(refused.value)


async def test_link_of_a_graph_that_is_down_is_unreachable(
    control: httpx.Client, alice: MicrosoftProvider
) -> None:
    fault(control, path="/v1.0/me/calendars", status=500, count=1)
    with pytest.raises(Unreachable):
        await alice.link()


# ---- busy times -------------------------------------------------------------------------------


async def test_busy_events_map_show_as_responses_cancellation_and_our_own_events(
    control: httpx.Client, alice: MicrosoftProvider
) -> None:
    at = "2031-03-04T{:02d}:00:00Z".format
    ids = {
        "busy": seed(control, at(8), at(9)),
        "free": seed(control, at(9), at(10), showAs="free"),
        "tentative": seed(control, at(10), at(11), showAs="tentative"),
        "unanswered": seed(control, at(11), at(12), responseStatus={"response": "notResponded"}),
        "maybe": seed(control, at(12), at(13), responseStatus={"response": "tentativelyAccepted"}),
        "declined": seed(control, at(13), at(14), responseStatus={"response": "declined"}),
        "cancelled": seed(control, at(14), at(15), isCancelled=True),
        "oof": seed(control, at(15), at(16), showAs="oof"),
    }
    ref = await alice.create_event(calendar_ids(control)["Calendar"], meeting(16))
    seed(control, "2031-03-06T08:00:00Z", "2031-03-06T09:00:00Z")  # outside the window

    events = {
        e.uid or "": e for e in await alice.busy_events(calendar_ids(control)["Calendar"], *WINDOW)
    }
    names = {uid: name for name, uid in ids.items()}
    assert {names.get(uid, "ours") for uid in events} == {*ids, "ours"}
    by_name = {names.get(uid or "", "ours"): e for uid, e in events.items()}
    assert by_name["busy"].start == DAY + timedelta(hours=8)
    assert by_name["busy"].end == DAY + timedelta(hours=9)
    assert by_name["free"].transparent
    assert by_name["tentative"].status == by_name["unanswered"].status == "tentative"
    assert by_name["maybe"].status == "tentative"
    assert by_name["declined"].declined
    assert by_name["cancelled"].status == "cancelled"
    assert by_name["ours"].parlay_meeting_id == "m-1" and by_name["ours"].uid == ref.external_id
    counted = {names.get(e.uid or "", "ours") for e in blocking_events(events.values())}
    assert counted == {"busy", "tentative", "unanswered", "maybe", "oof"}


async def test_all_day_events_are_busy_between_midnights_of_their_own_zone(
    control: httpx.Client, alice: MicrosoftProvider
) -> None:
    for zone in ("W. Europe Standard Time", "America/New_York"):
        seed(
            control,
            {"dateTime": "2031-03-04T00:00:00", "timeZone": zone},
            {"dateTime": "2031-03-05T00:00:00", "timeZone": zone},
            isAllDay=True,
        )
    events = await alice.busy_events(calendar_ids(control)["Calendar"], *WINDOW)
    spans = sorted((e.start, e.end, e.all_day) for e in events)
    berlin = DAY - timedelta(hours=1)  # midnight in Berlin (UTC+1 in March)
    new_york = DAY + timedelta(hours=5)  # midnight in New York (UTC-5)
    assert spans == [
        (berlin, berlin + timedelta(days=1), True),
        (new_york, new_york + timedelta(days=1), True),
    ]


async def test_busy_events_follow_next_links_and_read_only_the_calendar_asked(
    control: httpx.Client, alice: MicrosoftProvider
) -> None:
    for hour in range(7):
        seed(control, f"2031-03-04T{hour + 8:02d}:00:00Z", f"2031-03-04T{hour + 8:02d}:30:00Z")
    holidays = calendar_ids(control)["Holidays"]
    seed(control, "2031-03-04T20:00:00Z", "2031-03-04T21:00:00Z", calendar_id=holidays)
    alice.page_size = 2
    events = await alice.busy_events(calendar_ids(control)["Calendar"], *WINDOW)
    assert [e.start.hour for e in events] == list(range(8, 15))
    pages = [r for r in requests_log(control) if r["path"].endswith("/calendarView")]
    assert len(pages) == 4  # 2 + 2 + 2 + 1
    only = await alice.busy_events(holidays, *WINDOW)
    assert [e.start.hour for e in only] == [20]


async def test_a_calendar_that_is_gone_is_not_found(alice: MicrosoftProvider) -> None:
    with pytest.raises(NotFound):
        await alice.busy_events("AAMkAGone=", *WINDOW)


async def test_a_full_sync_holds_what_busy_events_sees(
    control: httpx.Client, alice: MicrosoftProvider
) -> None:
    seed(control, "2031-03-04T08:00:00Z", "2031-03-04T09:00:00Z")
    calendar = calendar_ids(control)["Calendar"]
    result = await alice.sync_busy(calendar, *WINDOW)
    assert result.full and result.next_token and "$deltatoken=" in result.next_token
    direct = await alice.busy_events(calendar, *WINDOW)
    assert [e for events in result.changed.values() for e in events] == direct


# ---- writes -----------------------------------------------------------------------------------


async def test_create_writes_the_meeting_in_utc_without_attendees(
    control: httpx.Client, alice: MicrosoftProvider
) -> None:
    calendar = calendar_ids(control)["Calendar"]
    ref = await alice.create_event(calendar, meeting(10))
    (event,) = stored(control)
    assert event["id"] == ref.external_id and ref.etag == event["@odata.etag"]
    assert event["calendar_id"] == calendar
    assert event["subject"] == "Meeting: Alice and Bob"
    assert event["start"]["dateTime"].startswith("2031-03-04T10:00:00")
    assert event["end"]["dateTime"].startswith("2031-03-04T11:00:00")
    assert event["attendees"] == []
    assert event["location"]["displayName"] == "https://parlay.test/m/tok"
    assert "https://parlay.test/m/tok" in event["body"]["content"]
    assert event["transactionId"] == "parlay-m-1"


async def test_a_create_whose_answer_was_lost_makes_one_event_when_retried(
    control: httpx.Client, alice: MicrosoftProvider
) -> None:
    calendar = calendar_ids(control)["Calendar"]
    fault(
        control,
        path=f"/v1.0/me/calendars/{calendar}/events",
        method="POST",
        status=504,
        when="after",
    )
    with pytest.raises(Transient):
        await alice.create_event(calendar, meeting(10))
    assert len(stored(control)) == 1  # the first attempt did create it

    ref = await alice.create_event(calendar, meeting(10))
    (event,) = stored(control)
    assert event["id"] == ref.external_id


async def test_a_retried_create_after_a_reschedule_leaves_the_new_time(
    control: httpx.Client, alice: MicrosoftProvider
) -> None:
    calendar = calendar_ids(control)["Calendar"]
    await alice.create_event(calendar, meeting(10))
    await alice.create_event(calendar, meeting(14, "Meeting: renamed"))
    (event,) = stored(control)
    assert event["start"]["dateTime"].startswith("2031-03-04T14:00:00")
    assert event["subject"] == "Meeting: renamed"


async def test_update_moves_the_event(control: httpx.Client, alice: MicrosoftProvider) -> None:
    calendar = calendar_ids(control)["Calendar"]
    ref = await alice.create_event(calendar, meeting(10))
    moved = await alice.update_event(calendar, meeting(15), ref)
    (event,) = stored(control)
    assert moved.external_id == ref.external_id and moved.etag != ref.etag
    assert event["start"]["dateTime"].startswith("2031-03-04T15:00:00")


async def test_update_without_a_ref_finds_the_event_by_its_transaction_id(
    control: httpx.Client, alice: MicrosoftProvider
) -> None:
    calendar = calendar_ids(control)["Calendar"]
    ref = await alice.create_event(calendar, meeting(10))
    moved = await alice.update_event(calendar, meeting(12), None)
    (event,) = stored(control)
    assert moved.external_id == ref.external_id
    assert event["start"]["dateTime"].startswith("2031-03-04T12:00:00")


async def test_update_of_an_event_deleted_in_outlook_writes_it_again(
    control: httpx.Client, alice: MicrosoftProvider
) -> None:
    calendar = calendar_ids(control)["Calendar"]
    ref = await alice.create_event(calendar, meeting(10))
    await alice.delete_event(calendar, "m-1", ref)  # as the user deleting it would
    again = await alice.update_event(calendar, meeting(11), ref)
    (event,) = stored(control)
    assert again.external_id == event["id"] != ref.external_id
    assert event["start"]["dateTime"].startswith("2031-03-04T11:00:00")


async def test_delete_removes_it_and_a_second_delete_is_fine(
    control: httpx.Client, alice: MicrosoftProvider
) -> None:
    calendar = calendar_ids(control)["Calendar"]
    ref = await alice.create_event(calendar, meeting(10))
    await alice.delete_event(calendar, "m-1", ref)
    await alice.delete_event(calendar, "m-1", ref)
    assert stored(control) == []


async def test_delete_without_a_ref_finds_our_event_and_leaves_the_others(
    control: httpx.Client, alice: MicrosoftProvider
) -> None:
    calendar = calendar_ids(control)["Calendar"]
    other = seed(control, "2031-03-04T08:00:00Z", "2031-03-04T09:00:00Z")
    await alice.create_event(calendar, meeting(10))
    await alice.create_event(calendar, MeetingEvent("m-2", "Other", DAY, DAY + timedelta(hours=1)))
    await alice.delete_event(calendar, "m-1", None)
    assert sorted(e.get("transactionId", e["id"]) for e in stored(control)) == sorted(
        [other, "parlay-m-2"]
    )
    await alice.delete_event(calendar, "m-1", None)  # nothing left to delete: fine


async def test_writes_with_a_stale_ref_to_a_missing_event_do_not_fail_the_delete(
    control: httpx.Client, alice: MicrosoftProvider
) -> None:
    calendar = calendar_ids(control)["Calendar"]
    await alice.delete_event(calendar, "m-9", EventRef("AAMkNeverExisted="))
    assert stored(control) == []


# ---- errors, throttling, tokens ---------------------------------------------------------------


async def test_429_is_rate_limited_with_retry_after(
    control: httpx.Client, alice: MicrosoftProvider
) -> None:
    fault(control, path="/v1.0/me/calendars/*/calendarView", status=429, retry_after=7)
    with pytest.raises(RateLimited) as limited:
        await alice.busy_events(calendar_ids(control)["Calendar"], *WINDOW)
    assert limited.value.retry_after == 7
    assert await alice.busy_events(calendar_ids(control)["Calendar"], *WINDOW) == []


async def test_503_with_retry_after_is_rate_limited_and_without_it_transient(
    control: httpx.Client, alice: MicrosoftProvider
) -> None:
    calendar = calendar_ids(control)["Calendar"]
    fault(control, path="/v1.0/me/calendars/*/calendarView", status=503, retry_after=30)
    with pytest.raises(RateLimited) as limited:
        await alice.busy_events(calendar, *WINDOW)
    assert limited.value.retry_after == 30
    fault(control, path="/v1.0/me/calendars/*/calendarView", status=503)
    with pytest.raises(Transient):
        await alice.busy_events(calendar, *WINDOW)


async def test_a_401_refreshes_the_tokens_and_the_call_goes_through(
    control: httpx.Client, alice: MicrosoftProvider
) -> None:
    before = alice.credentials
    revoke(control, access_token=before.access_token)
    assert await alice.account_email() == "alice@outlook.com"
    assert alice.credentials.access_token != before.access_token
    assert alice.credentials.refresh_token not in (None, before.refresh_token)  # rotated


async def test_a_revoked_grant_is_auth_expired(
    control: httpx.Client, alice: MicrosoftProvider
) -> None:
    revoke(control, account="alice@outlook.com", access_tokens=True)
    with pytest.raises(AuthExpired):
        await alice.busy_events(calendar_ids(control)["Calendar"], *WINDOW)


async def test_no_answer_in_time_is_transient(control: httpx.Client) -> None:
    add_account(control)
    creds = sign_in(control, "alice@outlook.com")

    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    slow = provider_for(control, creds, transport=httpx.MockTransport(hang))
    with pytest.raises(Transient):
        await slow.account_email()


# ---- the pure mapping -------------------------------------------------------------------------


def test_zone_names_windows_iana_and_unknown() -> None:
    assert str(zone_named("Pacific Standard Time")) == "America/Los_Angeles"
    assert str(zone_named("Europe/Paris")) == "Europe/Paris"
    assert str(zone_named("tzone://Microsoft/Custom")) == "UTC"
    assert str(zone_named(None)) == "UTC"


def test_an_all_day_event_already_converted_to_utc_is_read_as_it_stands() -> None:
    item = {
        "id": "x",
        "isAllDay": True,
        "start": {"dateTime": "2031-03-03T23:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2031-03-04T23:00:00.0000000", "timeZone": "UTC"},
        "originalStartTimeZone": "W. Europe Standard Time",
    }
    event = busy_event(item)
    assert event is not None
    assert (event.start, event.end) == (DAY - timedelta(hours=1), DAY + timedelta(hours=23))


# ---- incremental sync: calendarView delta -----------------------------------------------------


def graph(control: httpx.Client, provider: MicrosoftProvider) -> httpx.Client:
    """Graph itself as alice (her own edits in Outlook, between two syncs)."""
    token = provider.credentials.access_token
    return httpx.Client(
        base_url=f"{base(control)}/v1.0", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def utc(hour: int, day: int = 4) -> dict[str, str]:
    return {"dateTime": f"2031-03-{day:02d}T{hour:02d}:00:00", "timeZone": "UTC"}


def spans(result_items: tuple[BusyEvent, ...]) -> list[tuple[int, int]]:
    return [(e.start.hour, e.end.hour) for e in result_items]


def expire_delta(control: httpx.Client, calendar: str, code: str) -> int:
    reply = control.post(f"/_emulator/calendars/{calendar}/delta/expire", json={"code": code})
    assert reply.status_code == 200, reply.text
    return int(reply.json()["expired"])


def partial_updates(control: httpx.Client, on: bool) -> None:
    assert control.post("/_emulator/delta", json={"partial_updates": on}).status_code == 200


def delta_calls(control: httpx.Client) -> list[dict]:
    return [r for r in requests_log(control) if r["path"].endswith("/calendarView/delta")]


async def test_adds_moves_and_deletes_between_syncs_follow_incrementally(
    control: httpx.Client, alice: MicrosoftProvider
) -> None:
    calendar = calendar_ids(control)["Calendar"]
    keep = seed(control, "2031-03-04T08:00:00Z", "2031-03-04T09:00:00Z")
    move = seed(control, "2031-03-04T10:00:00Z", "2031-03-04T11:00:00Z")
    drop = seed(control, "2031-03-04T12:00:00Z", "2031-03-04T13:00:00Z")
    leave = seed(control, "2031-03-04T14:00:00Z", "2031-03-04T15:00:00Z")
    for hour in (16, 17, 18):  # enough to read unmarked items back in one calendarView
        seed(control, f"2031-03-04T{hour}:00:00Z", f"2031-03-04T{hour}:30:00Z")
    alice.page_size = 3
    full = await alice.sync_busy(calendar, *WINDOW)
    assert full.full and len(full.changed) == 7
    assert spans(full.changed[move]) == [(10, 11)]
    first_round = delta_calls(control)
    assert len(first_round) == 3  # 3 + 3 + 1, following the nextLinks
    assert "startDateTime=" in first_round[0]["query"]
    assert all("$skiptoken=" in r["query"] for r in first_round[1:])

    with graph(control, alice) as outlook:
        moved = outlook.patch(f"/me/events/{move}", json={"start": utc(19), "end": utc(20)})
        assert moved.status_code == 200
        assert outlook.delete(f"/me/events/{drop}").status_code == 204
        moved_out = {"start": utc(9, day=9), "end": utc(10, day=9)}
        assert outlook.patch(f"/me/events/{leave}", json=moved_out).status_code == 200
        added = outlook.post(
            f"/me/calendars/{calendar}/events",
            json={"subject": "dentist", "start": utc(21), "end": utc(22)},
        ).json()["id"]
    assert full.next_token is not None
    step = await alice.sync_busy(calendar, *WINDOW, sync_token=full.next_token)

    assert not step.full and step.next_token not in (None, full.next_token)
    assert set(step.changed) == {move, added}
    assert spans(step.changed[move]) == [(19, 20)]
    assert spans(step.changed[added]) == [(21, 22)]
    assert step.removed == {drop, leave}  # deleted, and moved out of the window
    assert keep not in step.changed and keep not in step.removed
    assert all("startDateTime" not in r["query"] for r in delta_calls(control)[-1:])

    quiet = await alice.sync_busy(calendar, *WINDOW, sync_token=step.next_token)
    assert not quiet.full and not quiet.changed and not quiet.removed


@pytest.mark.parametrize("code", ["syncStateNotFound", "resyncRequired"])
async def test_an_expired_delta_token_reads_the_window_in_full_again(
    control: httpx.Client, alice: MicrosoftProvider, code: str
) -> None:
    calendar = calendar_ids(control)["Calendar"]
    seed(control, "2031-03-04T08:00:00Z", "2031-03-04T09:00:00Z")
    first = await alice.sync_busy(calendar, *WINDOW)
    seed(control, "2031-03-04T10:00:00Z", "2031-03-04T11:00:00Z")
    assert expire_delta(control, calendar, code) == 1
    again = await alice.sync_busy(calendar, *WINDOW, sync_token=first.next_token)
    assert again.full
    assert sorted(h for items in again.changed.values() for h in spans(items)) == [
        (8, 9),
        (10, 11),
    ]
    assert again.next_token and again.next_token != first.next_token
    # and the new token works incrementally
    later = await alice.sync_busy(calendar, *WINDOW, sync_token=again.next_token)
    assert not later.full and not later.changed


async def test_a_token_for_another_graph_is_not_followed(
    control: httpx.Client, alice: MicrosoftProvider
) -> None:
    calendar = calendar_ids(control)["Calendar"]
    seed(control, "2031-03-04T08:00:00Z", "2031-03-04T09:00:00Z")
    foreign = "https://graph.example.net/v1.0/me/calendarView/delta?$deltatoken=abc"
    result = await alice.sync_busy(calendar, *WINDOW, sync_token=foreign)
    assert result.full and len(result.changed) == 1
    assert not any("example" in r["path"] for r in requests_log(control))


@pytest.mark.parametrize("partial", [False, True], ids=["whole", "partial"])
async def test_our_own_events_never_block_through_incremental_syncs(
    control: httpx.Client, alice: MicrosoftProvider, partial: bool
) -> None:
    """Parlay's events are marked by transactionId; a delta that returns changed events only
    in part (id + what changed) must not make them, or others, read wrong."""
    calendar = calendar_ids(control)["Calendar"]
    other = seed(control, "2031-03-04T08:00:00Z", "2031-03-04T09:00:00Z")
    ref = await alice.create_event(calendar, meeting(10))
    first = await alice.sync_busy(calendar, *WINDOW)
    assert [e.parlay_meeting_id for e in first.changed[ref.external_id]] == ["m-1"]
    assert blocking_events(e for items in first.changed.values() for e in items) == list(
        first.changed[other]
    )

    partial_updates(control, partial)
    try:
        await alice.update_event(calendar, meeting(13), ref)  # rescheduled
        with graph(control, alice) as outlook:
            assert outlook.patch(f"/me/events/{other}", json={"showAs": "free"}).status_code == 200
        step = await alice.sync_busy(calendar, *WINDOW, sync_token=first.next_token)
    finally:
        partial_updates(control, False)
    assert not step.full and set(step.changed) == {ref.external_id, other}
    (ours,) = step.changed[ref.external_id]
    assert (ours.start.hour, ours.parlay_meeting_id) == (13, "m-1")
    (freed,) = step.changed[other]
    assert freed.transparent and (freed.start.hour, freed.end.hour) == (8, 9)
    assert blocking_events([*step.changed[ref.external_id], *step.changed[other]]) == []


async def test_a_delta_that_keeps_failing_is_transient(
    control: httpx.Client, alice: MicrosoftProvider
) -> None:
    calendar = calendar_ids(control)["Calendar"]
    first = await alice.sync_busy(calendar, *WINDOW)
    fault(control, path="/v1.0/me/calendars/*/calendarView/delta", status=503, count=1)
    with pytest.raises(Transient):
        await alice.sync_busy(calendar, *WINDOW, sync_token=first.next_token)
    fault(control, path="/v1.0/me/calendars/*/calendarView/delta", status=410, count=1)
    with pytest.raises(Transient):  # even a full round refused: not a loop of full reads
        await alice.sync_busy(calendar, *WINDOW)


async def test_a_graph_without_delta_for_a_calendar_still_gives_its_busy_times(
    control: httpx.Client, alice: MicrosoftProvider
) -> None:
    """A 404 or 400 on the delta (an implementation or calendar without it) is not "the
    calendar is gone": the window is read in full instead, and no token kept."""
    calendar = calendar_ids(control)["Calendar"]
    seed(control, "2031-03-04T08:00:00Z", "2031-03-04T09:00:00Z")
    for status in (404, 400):
        fault(control, path="/v1.0/me/calendars/*/calendarView/delta", status=status, count=1)
        result = await alice.sync_busy(calendar, *WINDOW)
        assert result.full and result.next_token is None
        assert [spans(items) for items in result.changed.values()] == [[(8, 9)]]
    with pytest.raises(NotFound):
        await alice.sync_busy("AAMkAGone=", *WINDOW)
    first = await alice.sync_busy(calendar, *WINDOW)
    fault(control, path="/v1.0/me/calendars/*/calendarView/delta", status=400, count=1)
    again = await alice.sync_busy(calendar, *WINDOW, sync_token=first.next_token)
    assert again.full and again.next_token and again.next_token != first.next_token
