"""What an in-app notification says: its title and body, written for one recipient.

The body carries the meeting's time in the recipient's saved zone (a notification is also read
where no browser can re-render it: a push message, an API client), so each recipient's row is
worded for them.  The notice ``data`` is the one the room's meeting message carries
(``parlay.services.scheduling_views.notice_data``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

KIND_TITLES = {
    "meeting.scheduled": "Meeting scheduled",
    "meeting.rescheduled": "Meeting rescheduled",
    "meeting.cancelled": "Meeting cancelled",
}


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ValueError, OSError):  # a zone this machine no longer knows: say it in UTC
        return ZoneInfo("UTC")


def when(instant: datetime | str | None, zone: str) -> str:
    """``Tue 3 Mar 2026, 10:00 (Europe/Berlin)``; an empty string when there is no instant."""
    if instant is None:
        return ""
    if isinstance(instant, str):
        instant = datetime.fromisoformat(instant)
    tz = zone_of(zone)
    local = instant.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} ({tz.key})"


def meeting_title(kind: str, room_title: str) -> str:
    return f"{KIND_TITLES[kind]} in {room_title}"


def meeting_body(kind: str, actor: str, data: dict[str, Any], zone: str) -> str:
    """One sentence on the change, with the reason (if any) last."""
    if kind == "meeting.scheduled":
        text = f"{actor} booked a meeting for {when(data.get('start'), zone)}."
    elif kind == "meeting.rescheduled":
        text = (
            f"{actor} moved the meeting from {when(data.get('from_start'), zone)} "
            f"to {when(data.get('to_start') or data.get('start'), zone)}."
        )
    else:
        text = f"{actor} cancelled the meeting of {when(data.get('start'), zone)}."
    reason = data.get("reason")
    return f"{text} Reason: {reason}" if reason else text


def needs_reauth_texts(provider: str, account: str) -> tuple[str, str]:
    label = {"google": "Google", "microsoft": "Microsoft", "caldav": "CalDAV"}.get(
        provider, provider
    )
    return (
        f"Reconnect your {label} calendar",
        f"Parlay can no longer reach {account or 'your calendar'}. "
        "Reconnect it on the Calendars page so busy times and meetings stay in sync.",
    )
