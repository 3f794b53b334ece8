"""WHEN for `--at`, read in the sender's zone: the forms, daylight saving, the limits, and a property."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.schedule import MAX_AHEAD, ScheduleError, describe, from_epoch, parse_when, zone_named

NY = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
SUMMER = datetime(2027, 6, 30, 16, 0, tzinfo=UTC)  # Wed 30 Jun 2027, 12:00 in New York (EDT)
WINTER = datetime(2027, 1, 13, 17, 0, tzinfo=UTC)  # Wed 13 Jan 2027, 12:00 in New York (EST)


@pytest.mark.parametrize(
    ("when", "now", "expected"),
    [
        ("2027-07-01 09:00", SUMMER, "2027-07-01T09:00:00-04:00"),
        ("2027-01-14 09:00", WINTER, "2027-01-14T09:00:00-05:00"),
        ("2027-07-01T09:00", SUMMER, "2027-07-01T09:00:00-04:00"),
        ("15:30", SUMMER, "2027-06-30T15:30:00-04:00"),  # later today
        ("09:00", SUMMER, "2027-07-01T09:00:00-04:00"),  # passed today: tomorrow
        ("9am", WINTER, "2027-01-14T09:00:00-05:00"),
        ("tomorrow 9am", SUMMER, "2027-07-01T09:00:00-04:00"),
        ("Tomorrow at 5:30pm", WINTER, "2027-01-14T17:30:00-05:00"),
        ("today 18:00", SUMMER, "2027-06-30T18:00:00-04:00"),
        ("mon 14:00", SUMMER, "2027-07-05T14:00:00-04:00"),
        ("wednesday 13:00", SUMMER, "2027-06-30T13:00:00-04:00"),  # today, still ahead
        ("wed 11:00", SUMMER, "2027-07-07T11:00:00-04:00"),  # today but passed: next week
        ("in 2h", SUMMER, "2027-06-30T14:00:00-04:00"),
        ("in 30m", WINTER, "2027-01-13T12:30:00-05:00"),
        ("in 1h 30m", SUMMER, "2027-06-30T13:30:00-04:00"),
        ("in 3 days", SUMMER, "2027-07-03T12:00:00-04:00"),
        ("2027-03-14 02:30", WINTER, "2027-03-14T03:30:00-04:00"),  # skipped by the clocks going forward
        ("2027-03-20 09:00", WINTER, "2027-03-20T09:00:00-04:00"),  # after the change: the new offset
    ],
)
def test_forms_in_new_york_summer_and_winter(when: str, now: datetime, expected: str):
    assert parse_when(when, NY, now).isoformat() == expected


def test_kolkata_has_its_half_hour_offset_all_year():
    assert parse_when("tomorrow 9am", KOLKATA, SUMMER).isoformat() == "2027-07-01T09:00:00+05:30"
    assert parse_when("2027-01-14 09:00", KOLKATA, WINTER).isoformat() == "2027-01-14T09:00:00+05:30"


@pytest.mark.parametrize("when", ["2027-06-29 09:00", "2027-06-30 12:00", "in 0m", "in 30s"])
def test_the_past_and_now_are_refused(when: str):
    with pytest.raises(ScheduleError):
        parse_when(when, NY, SUMMER)


def test_the_past_is_refused_saying_so():
    with pytest.raises(ScheduleError, match="in the past"):
        parse_when("2027-06-29 09:00", NY, SUMMER)


def test_more_than_90_days_is_refused():
    with pytest.raises(ScheduleError, match="90 days"):
        parse_when("2027-10-01 09:00", NY, SUMMER)
    with pytest.raises(ScheduleError, match="90 days"):
        parse_when("in 91 days", NY, SUMMER)
    assert parse_when("in 89 days", NY, SUMMER)


@pytest.mark.parametrize("when", ["yesterday", "9", "25:00", "13pm", "next week", "2027-02-30 09:00", "in soon", ""])
def test_unreadable_says_which_forms_work(when: str):
    with pytest.raises(ScheduleError, match="tomorrow 9am") as caught:
        parse_when(when, NY, SUMMER)
    assert "in 2h" in str(caught.value)


def test_the_pickers_epoch_is_read_in_the_senders_zone():
    epoch = datetime(2027, 7, 1, 13, 0, tzinfo=UTC).timestamp()
    assert from_epoch(epoch, NY, SUMMER).isoformat() == "2027-07-01T09:00:00-04:00"
    with pytest.raises(ScheduleError):
        from_epoch(SUMMER.timestamp() - 60, NY, SUMMER)


def test_described_as_the_sender_reads_it():
    assert describe(parse_when("2026-12-01 09:00", NY, datetime(2026, 11, 27, tzinfo=UTC))) == "Tue 1 Dec, 09:00 EST"


def test_an_unknown_or_missing_zone_is_utc():
    assert zone_named(None) == ZoneInfo("UTC") and zone_named("Mars/Olympus") == ZoneInfo("UTC")
    assert zone_named("Asia/Kolkata") == KOLKATA


_zones = st.sampled_from(["America/New_York", "Asia/Kolkata", "Europe/London", "Australia/Lord_Howe", "UTC"])
_clock = st.tuples(st.integers(0, 23), st.integers(0, 59))
_phrases = st.one_of(
    _clock.map(lambda c: f"{c[0]:02d}:{c[1]:02d}"),
    st.tuples(st.integers(1, 12), st.sampled_from(["am", "pm"])).map(lambda c: f"{c[0]}{c[1]}"),
    _clock.map(lambda c: f"tomorrow {c[0]}:{c[1]:02d}"),
    st.tuples(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sunday"]), _clock).map(
        lambda c: f"{c[0]} {c[1][0]:02d}:{c[1][1]:02d}"
    ),
    st.tuples(st.integers(0, 3000), st.sampled_from(["m", "h", " days"])).map(lambda c: f"in {c[0]}{c[1]}"),
    st.tuples(st.dates(), _clock).map(lambda c: f"{c[0].isoformat()} {c[1][0]:02d}:{c[1][1]:02d}"),
)


@settings(max_examples=400, deadline=None)
@given(
    when=_phrases,
    zone=_zones,
    now=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)),
)
def test_any_accepted_when_is_in_the_future_within_90_days(when: str, zone: str, now: datetime):
    try:
        scheduled = parse_when(when, ZoneInfo(zone), now)
    except ScheduleError:
        return
    assert now < scheduled <= now + MAX_AHEAD
    assert scheduled.utcoffset() == ZoneInfo(zone).utcoffset(scheduled.replace(tzinfo=None))
    assert scheduled.utcoffset() is not None and scheduled - now >= timedelta(minutes=1)
