"""Send later: reading WHEN (`--at`, the form's picker) in the sender's time zone, and its limits.

Pure: the zone and "now" are passed in, so tests can stand anywhere in time. Hand-written rather than
dateparser or python-dateutil: the forms are few and fixed, and those libraries read far more than
these (`dateparser` guesses across languages and orders, `"1/2"` means different days in different
locales), which would turn a typo into a scheduled message instead of a refusal naming the forms.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_AHEAD = timedelta(days=90)
MIN_AHEAD = timedelta(minutes=1)  # anything sooner would reach Sociocs in the past and go at once
FORMS = (
    "`2026-12-01 09:00`, `09:00` or `9am` (today, or tomorrow if that time has passed), "
    "`tomorrow 9am`, `mon 14:00` (the next Monday), `in 2h`, `in 30m`"
)
_WEEKDAYS = {
    name: i
    for i, names in enumerate(
        (
            ("mon", "monday"),
            ("tue", "tues", "tuesday"),
            ("wed", "wednesday"),
            ("thu", "thur", "thurs", "thursday"),
            ("fri", "friday"),
            ("sat", "saturday"),
            ("sun", "sunday"),
        )
    )
    for name in names
}
_TIME = re.compile(r"^(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?$")
_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_IN = re.compile(r"^in\s+(.+)$")
_AMOUNT = re.compile(r"(\d+)\s*(days?|hours?|hrs?|minutes?|mins?|[dhm])")
_UNITS = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}


class ScheduleError(ValueError):
    """WHEN cannot be used: unreadable, in the past or too far ahead. The message says what works."""


def zone_named(name: str | None) -> ZoneInfo:
    """The IANA zone (`America/New_York`), or UTC when Slack gave none or one this machine does not know."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo("UTC")


def _clock(text: str) -> time | None:
    match = _TIME.match(text.strip().lower())
    if match is None:
        return None
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), match.group(3)
    if half is None and match.group(2) is None:
        return None  # a bare "9" is a number, not a time
    if half is not None:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half.startswith("p") else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    """That wall-clock time in the zone; a time skipped by a DST change moves on to the real one."""
    naive = datetime.combine(day, at)
    return naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)


def _relative(text: str) -> timedelta | None:
    """`2h`, `30m`, `1h30m`, `2 hours`, `3 days`; None when that is not all it says."""
    pos, total = 0, timedelta()
    compact = text.strip()
    for match in _AMOUNT.finditer(compact):
        if compact[pos : match.start()].strip():
            return None
        total += int(match.group(1)) * _UNITS[match.group(2)[0]]
        pos = match.end()
    if pos == 0 or compact[pos:].strip():
        return None
    return total


def _read(text: str, zone: ZoneInfo, now: datetime) -> datetime | None:
    words = " ".join(text.strip().lower().replace(",", " ").split())
    words = re.sub(r"^(\d{4}-\d{1,2}-\d{1,2})t(?=\d)", r"\1 ", words).replace(" at ", " ")
    local_now = now.astimezone(zone)
    today = local_now.date()
    relative = _IN.match(words)
    if relative is not None:
        delta = _relative(relative.group(1))
        return None if delta is None else (now + delta).astimezone(zone)
    head, _, rest = words.partition(" ")
    if (dated := _DATE.match(head)) is not None:
        year, month, day = (int(g) for g in dated.groups())
        at = _clock(rest)
        try:
            return None if at is None else _local(date(year, month, day), at, zone)
        except ValueError:
            return None
    if head in ("today", "tomorrow"):
        at = _clock(rest)
        on = today + timedelta(days=1 if head == "tomorrow" else 0)
        return None if at is None else _local(on, at, zone)
    if head in _WEEKDAYS:
        at = _clock(rest)
        if at is None:
            return None
        ahead = (_WEEKDAYS[head] - today.weekday()) % 7
        when = _local(today + timedelta(days=ahead), at, zone)
        return when if when > now else _local(today + timedelta(days=ahead + 7), at, zone)
    at = _clock(words)
    if at is None:
        return None
    when = _local(today, at, zone)
    return when if when > now else _local(today + timedelta(days=1), at, zone)


def check_window(when: datetime, now: datetime) -> datetime:
    """`when` if it is at least a minute ahead and at most 90 days; ScheduleError saying why not."""
    if when < now + MIN_AHEAD:
        raise ScheduleError(
            f"{describe(when)} is in the past (or less than a minute away): Sociocs would send it at once. "
            "Choose a later time, or leave out --at to send now."
        )
    if when > now + MAX_AHEAD:
        raise ScheduleError(f"{describe(when)} is more than 90 days ahead: choose a time within 90 days.")
    return when


def read_when(text: str, zone: ZoneInfo, now: datetime) -> datetime:
    """WHEN read in `zone` at the moment `now`, unchecked against the limits; ScheduleError if unreadable."""
    when = _read(text, zone, now)
    if when is None:
        raise ScheduleError(f"I cannot read the time “{text.strip()[:60]}”. Write it like {FORMS}.")
    return when


def parse_when(text: str, zone: ZoneInfo, now: datetime) -> datetime:
    """WHEN read in `zone` at the moment `now` (aware): an aware datetime in `zone`, or ScheduleError."""
    return check_window(read_when(text, zone, now), now)


def from_epoch(epoch: int | float, zone: ZoneInfo, now: datetime) -> datetime:
    """The form's picker (a UTC epoch) in the sender's zone, within the limits."""
    return check_window(datetime.fromtimestamp(epoch, UTC).astimezone(zone), now)


def describe(when: datetime) -> str:
    """`Tue 1 Dec, 09:00 EST`: the time as the sender reads it, in the zone it carries."""
    return f"{when:%a} {when.day} {when:%b}, {when:%H:%M} {when.tzname() or ''}".strip()
