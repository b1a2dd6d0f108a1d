"""Graph's ``dateTimeTimeZone``: local wall-clock time plus a zone name (Windows or IANA).

Responses echo seven fractional digits (``2025-03-04T15:00:00.0000000``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The Windows names Outlook uses most, mapped to IANA (CLDR windowsZones, territory "001").
WINDOWS_ZONES = {
    "UTC": "UTC",
    "Coordinated Universal Time": "UTC",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "GMT Standard Time": "Europe/London",
    "W. Europe Standard Time": "Europe/Berlin",
    "Central Europe Standard Time": "Europe/Budapest",
    "Central European Standard Time": "Europe/Warsaw",
    "Romance Standard Time": "Europe/Paris",
    "E. Europe Standard Time": "Europe/Chisinau",
    "FLE Standard Time": "Europe/Kiev",
    "GTB Standard Time": "Europe/Bucharest",
    "Russian Standard Time": "Europe/Moscow",
    "Turkey Standard Time": "Europe/Istanbul",
    "Israel Standard Time": "Asia/Jerusalem",
    "Arabian Standard Time": "Asia/Dubai",
    "India Standard Time": "Asia/Kolkata",
    "China Standard Time": "Asia/Shanghai",
    "Singapore Standard Time": "Asia/Singapore",
    "Tokyo Standard Time": "Asia/Tokyo",
    "Korea Standard Time": "Asia/Seoul",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "New Zealand Standard Time": "Pacific/Auckland",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "Alaskan Standard Time": "America/Anchorage",
    "Pacific Standard Time": "America/Los_Angeles",
    "Mountain Standard Time": "America/Denver",
    "US Mountain Standard Time": "America/Phoenix",
    "Central Standard Time": "America/Chicago",
    "Eastern Standard Time": "America/New_York",
    "Atlantic Standard Time": "America/Halifax",
    "E. South America Standard Time": "America/Sao_Paulo",
    "SA Pacific Standard Time": "America/Bogota",
    "South Africa Standard Time": "Africa/Johannesburg",
}


class UnknownTimeZone(ValueError):
    pass


def zone(name: str) -> ZoneInfo:
    """The zone a Graph ``timeZone`` names: Windows names and IANA names are accepted."""
    iana = WINDOWS_ZONES.get(name.strip(), name.strip())
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownTimeZone(name) from exc


def parse_instant(text: str) -> datetime:
    """An ISO 8601 query instant (``startDateTime``): its own offset, none meaning UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_local(payload: object) -> tuple[datetime, str]:
    """A ``dateTimeTimeZone`` object -> (UTC instant, zone name as given)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("dateTime"), str):
        raise ValueError("dateTimeTimeZone needs dateTime")
    name = payload.get("timeZone") or "UTC"
    if not isinstance(name, str):
        raise ValueError("timeZone must be a string")
    tz = zone(name)
    raw = payload["dateTime"].strip().replace("Z", "+00:00")
    local = datetime.fromisoformat(raw)
    if local.tzinfo is not None:  # lenient: an offset wins over the zone for the instant
        return local.astimezone(UTC), name
    return local.replace(tzinfo=tz).astimezone(UTC), name


def fmt_local(value: datetime) -> str:
    return value.replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}0"


def render(instant: datetime, name: str) -> dict[str, str]:
    """A UTC instant as ``{"dateTime", "timeZone"}`` in the named zone."""
    return {"dateTime": fmt_local(instant.astimezone(zone(name))), "timeZone": name}


def render_date(day: date, name: str) -> dict[str, str]:
    """All-day bounds are floating midnights: the same date whatever zone is asked for."""
    return {"dateTime": fmt_local(datetime.combine(day, time())), "timeZone": name}


def day_bounds(start: date, end: date, name: str) -> tuple[datetime, datetime]:
    """An all-day event's span as UTC instants, between midnights of its own zone."""
    tz = zone(name)
    begin = datetime.combine(start, time(), tzinfo=tz).astimezone(UTC)
    finish = datetime.combine(end, time(), tzinfo=tz).astimezone(UTC)
    return begin, max(finish, begin + timedelta(days=0))


def iso_utc(value: datetime) -> str:
    return fmt_local(value.astimezone(UTC)) + "Z"
