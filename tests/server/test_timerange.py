"""timerange: a named zone's range cut where its offset changes, and the zones refused."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentwatch.server.errors import BadRequest
from agentwatch.server.storage.rollups import BUCKET_SECONDS
from agentwatch.server.timerange import custom_range, last_days, last_hours, parse_tz

UTC = dt.timezone.utc
# Daylight saving time in both hemispheres, a 30-minute change (Lord Howe), 45-minute
# offsets (Chatham), a zone that suspends its summer time for Ramadan (Casablanca), none.
ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Africa/Casablanca",
    "Asia/Kolkata",
    "UTC",
]


def offset_at(zone: dt.tzinfo, epoch: int) -> int:
    offset = dt.datetime.fromtimestamp(epoch, UTC).astimezone(zone).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(ZONES),
    day=st.dates(min_value=dt.date(1980, 1, 1), max_value=dt.date(2037, 12, 31)),
    days=st.integers(min_value=1, max_value=366),
)
def test_segments_cut_the_range_where_the_offset_changes(
    name: str, day: dt.date, days: int
) -> None:
    zone = zoneinfo.ZoneInfo(name)
    now = dt.datetime.combine(day, dt.time(12), tzinfo=UTC)
    window = last_days(days, zone, now)
    segments = window.segments()
    assert segments[0][0] == window.epoch(window.since)
    assert segments[-1][1] == window.epoch(window.until)
    for (_, until, offset), (since, _, next_offset) in itertools.pairwise(segments):
        assert until == since  # contiguous
        assert offset != next_offset  # cut only where it changes
    for since, until, offset in segments:
        assert since < until
        assert (since - segments[0][0]) % BUCKET_SECONDS == 0
        # Every bucket of the segment has its offset.
        for bucket in range(since, until, BUCKET_SECONDS):
            assert offset_at(zone, bucket) == offset
    # Each bucket's local hour or day is a slot, and each slot starts on a local hour or
    # midnight.
    step, slots = window.step_seconds, set(window.slots())
    for since, until, offset in segments:
        assert {(b + offset) // step for b in range(since, until, BUCKET_SECONDS)} <= slots
    starts = [window.slot_start(s).time() for s in slots]
    assert all(t.minute == t.second == 0 and (step == 3600 or t.hour == 0) for t in starts)


def test_a_fixed_offset_is_one_segment() -> None:
    now = dt.datetime(2026, 10, 30, tzinfo=UTC)
    window = last_days(30, parse_tz("+01:00"), now)
    assert window.segments() == [
        (window.epoch(window.since), window.epoch(window.until), 3600),
    ]


def test_last_hours_are_real_hours_across_a_change() -> None:
    zone = parse_tz("America/New_York")
    now = dt.datetime(2026, 11, 1, 12, 10, tzinfo=UTC)  # 07:10 EST, after the change
    window = last_hours(48, zone, now)
    assert window.until - window.since == dt.timedelta(hours=48)
    assert window.until == dt.datetime(2026, 11, 1, 13, tzinfo=UTC)


def test_named_zones_are_taken_for_dates_and_times() -> None:
    zone = parse_tz("Europe/Berlin")
    now = dt.datetime(2026, 12, 1, tzinfo=UTC)
    summer = custom_range("2026-07-01", "2026-07-01", zone, now)
    assert (summer.since, summer.until) == (
        dt.datetime(2026, 6, 30, 22, tzinfo=UTC),
        dt.datetime(2026, 7, 1, 22, tzinfo=UTC),
    )
    winter = custom_range("2026-12-01T08:00", "", zone, now + dt.timedelta(hours=12))
    assert winter.since == dt.datetime(2026, 12, 1, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "Europe/Nowhere",
        "../../etc/passwd",
        "/etc/localtime",
        "Europe/../Berlin",
        "Europe\\Berlin",
        "Europe/Berlin\x00",
        "A" * 65,
        "Europe/Berlin/x/y",
        "+05:07",
        "+15:00",
        "posixrules ",
    ],
)
def test_zones_refused_say_what_is_accepted(text: str) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_tz(text)
    assert refused.value.message.startswith("tz: expected a time zone name such as Europe/Berlin")


def test_two_local_days_across_a_change_are_drawn_by_the_hour() -> None:
    zone = parse_tz("Europe/Berlin")
    now = dt.datetime(2026, 12, 1, tzinfo=UTC)
    autumn = custom_range("2026-10-24", "2026-10-25", zone, now)  # 49 real hours
    assert autumn.until - autumn.since == dt.timedelta(hours=49)
    assert autumn.step == "hour"
    assert len(autumn.slots()) == 48  # the repeated hour is one slot
    spring = custom_range("2026-03-28", "2026-03-29", zone, now)  # 47 real hours
    assert (spring.step, len(spring.slots())) == ("hour", 47)
    assert custom_range("2026-10-24", "2026-10-26", zone, now).step == "day"
