"""Event times and the simple recurrences the emulator expands (RRULE FREQ=DAILY|WEEKLY).

Supported RRULE parts: FREQ (DAILY, WEEKLY), INTERVAL, COUNT, UNTIL, BYDAY (weekly, plain day
codes). EXDATE lines are honoured. Anything else is kept on the event but not expanded.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
MAX_INSTANCES = 2500


class BadTime(ValueError):
    pass


def parse_instant(value: str) -> datetime:
    """RFC 3339 with an offset (Google refuses a bare local time in query parameters)."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise BadTime(value) from exc
    if parsed.tzinfo is None:
        raise BadTime(value)
    return parsed.astimezone(UTC)


def zone(name: str | None, fallback: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or fallback)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadTime(name or fallback) from exc


@dataclass(frozen=True)
class Span:
    start: datetime  # UTC
    end: datetime  # UTC, exclusive
    all_day: bool
    tz: ZoneInfo
    local_start: datetime  # wall clock in tz (midnight for all-day)
    length: timedelta


def span_of(event: dict[str, Any], calendar_zone: str) -> Span:
    start, end = event.get("start") or {}, event.get("end") or {}
    if "date" in start:
        tz = zone(start.get("timeZone"), calendar_zone)
        d0 = date.fromisoformat(start["date"])
        d1 = date.fromisoformat(end.get("date", start["date"]))
        local = datetime.combine(d0, time(0), tz)
        local_end = datetime.combine(d1, time(0), tz)
        length = timedelta(days=(d1 - d0).days)
        return Span(local.astimezone(UTC), local_end.astimezone(UTC), True, tz, local, length)
    if "dateTime" not in start or "dateTime" not in end:
        raise BadTime("start/end")
    tz = zone(start.get("timeZone"), calendar_zone)
    s = _local(start["dateTime"], tz)
    e = _local(end["dateTime"], zone(end.get("timeZone"), calendar_zone))
    return Span(s.astimezone(UTC), e.astimezone(UTC), False, tz, s.astimezone(tz), e - s)


def _local(value: str, tz: ZoneInfo) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadTime(value) from exc
    return parsed.replace(tzinfo=tz) if parsed.tzinfo is None else parsed


def _rrule(event: dict[str, Any]) -> dict[str, str] | None:
    for line in event.get("recurrence") or []:
        if line.upper().startswith("RRULE:"):
            parts = dict(p.split("=", 1) for p in line[6:].split(";") if "=" in p)
            return {k.upper(): v.upper() for k, v in parts.items()}
    return None


def _exdates(event: dict[str, Any], tz: ZoneInfo) -> set[datetime]:
    out: set[datetime] = set()
    for line in event.get("recurrence") or []:
        if not line.upper().startswith("EXDATE"):
            continue
        head, _, values = line.partition(":")
        line_tz = tz
        for param in head.split(";")[1:]:
            if param.upper().startswith("TZID="):
                line_tz = ZoneInfo(param[5:])
        for value in values.split(","):
            value = value.strip()
            if len(value) == 8:
                out.add(datetime.strptime(value, "%Y%m%d").replace(tzinfo=line_tz))
            elif value.endswith("Z"):
                out.add(datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC))
            else:
                out.add(datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=line_tz))
    return {d.astimezone(UTC) for d in out}


def is_recurring(event: dict[str, Any]) -> bool:
    return _rrule(event) is not None


def occurrences(event: dict[str, Any], calendar_zone: str, until: datetime) -> list[Span]:
    """The event's occurrences starting before `until` (UTC), at most MAX_INSTANCES."""
    span = span_of(event, calendar_zone)
    rule = _rrule(event)
    if rule is None:
        return [span]
    freq = rule.get("FREQ", "")
    if freq not in ("DAILY", "WEEKLY"):
        return [span]
    interval = max(1, int(rule.get("INTERVAL", "1")))
    count = int(rule["COUNT"]) if "COUNT" in rule else None
    rule_until = _until(rule.get("UNTIL"), span.tz)
    local0 = span.local_start
    if freq == "WEEKLY":
        days = [d for d in rule.get("BYDAY", "").split(",") if d in _DAYS] or [
            _DAYS[local0.weekday()]
        ]
        weekdays = sorted(_DAYS.index(d) for d in days)
    else:
        weekdays = list(range(7))
    excluded = _exdates(event, span.tz)
    out: list[Span] = []
    produced = 0
    week_start = local0.date() - timedelta(days=local0.weekday())
    period = 0
    while produced < MAX_INSTANCES:
        if freq == "WEEKLY":
            base = week_start + timedelta(weeks=period * interval)
            candidates = [base + timedelta(days=wd) for wd in weekdays]
        else:
            candidates = [local0.date() + timedelta(days=period * interval)]
        period += 1
        stop = False
        for day in candidates:
            if day < local0.date():
                continue
            local = datetime.combine(day, local0.time(), span.tz)
            start = local.astimezone(UTC)
            if (rule_until and start > rule_until) or start >= until:
                stop = True
                break
            if count is not None and produced >= count:
                stop = True
                break
            produced += 1
            if start in excluded:
                continue
            end = (
                datetime.combine(day + span.length, time(0), span.tz).astimezone(UTC)
                if span.all_day
                else start + span.length
            )
            out.append(Span(start, end, span.all_day, span.tz, local, span.length))
        if stop:
            break
    return out


def _until(value: str | None, tz: ZoneInfo) -> datetime | None:
    if not value:
        return None
    if len(value) == 8:
        return datetime.strptime(value, "%Y%m%d").replace(tzinfo=tz).astimezone(UTC) + timedelta(
            days=1, microseconds=-1
        )
    if value.endswith("Z"):
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=tz).astimezone(UTC)


def instance(master: dict[str, Any], occ: Span) -> dict[str, Any]:
    """One expanded instance as events.list(singleEvents=true) returns it."""
    item = copy.deepcopy(master)
    item.pop("recurrence", None)
    tz_name = (master.get("start") or {}).get("timeZone")
    if occ.all_day:
        suffix = occ.local_start.strftime("%Y%m%d")
        start = {"date": occ.local_start.date().isoformat()}
        end = {"date": (occ.local_start.date() + occ.length).isoformat()}
        original = dict(start)
    else:
        suffix = occ.start.strftime("%Y%m%dT%H%M%SZ")
        start = {"dateTime": occ.local_start.isoformat()}
        end = {"dateTime": (occ.local_start + occ.length).isoformat()}
        original = dict(start)
    if tz_name:
        for part in (start, end, original):
            part["timeZone"] = tz_name
    item.update(
        id=f"{master['id']}_{suffix}",
        start=start,
        end=end,
        recurringEventId=master["id"],
        originalStartTime=original,
    )
    return item
