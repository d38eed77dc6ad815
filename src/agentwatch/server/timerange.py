"""The time range an overview covers, in the viewer's time zone: its bounds, and whether it
is drawn by the hour (48 hours or less) or by the day.

Bounds fall on the rollups' 15-minute buckets (``storage/rollups.py``), and so do the
hours and days of every UTC offset (offsets are whole quarter hours). Bad input raises
:class:`BadRequest` naming the parameter and what it accepts.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from agentwatch.server.errors import BadRequest
from agentwatch.server.storage.rollups import BUCKET_SECONDS

__all__ = ["HOURLY_UP_TO", "TimeRange", "custom_range", "last_days", "last_hours", "parse_tz"]

HOURLY_UP_TO = dt.timedelta(hours=48)
MAX_SPAN = dt.timedelta(days=366)
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")
_BUCKET = dt.timedelta(seconds=BUCKET_SECONDS)
_UTC = dt.timezone.utc


@dataclass(frozen=True)
class TimeRange:
    """[since, until) in UTC, shown in ``tz``, in steps of an hour or a day."""

    since: dt.datetime
    until: dt.datetime
    tz: dt.timezone

    @property
    def step(self) -> str:
        return "hour" if self.until - self.since <= HOURLY_UP_TO else "day"

    @property
    def step_seconds(self) -> int:
        return 3600 if self.step == "hour" else 86400

    @property
    def offset_seconds(self) -> int:
        """How far the zone's clock is ahead of UTC (``tz.utcoffset``), in seconds."""
        offset = self.tz.utcoffset(None)
        return int(offset.total_seconds())

    def epoch(self, when: dt.datetime) -> int:
        return int((when - dt.datetime(1970, 1, 1, tzinfo=_UTC)).total_seconds())

    def slot_start(self, slot: int) -> dt.datetime:
        """The local start of slot number ``slot`` (see ``overview.session_series``)."""
        utc = dt.datetime.fromtimestamp(slot * self.step_seconds - self.offset_seconds, _UTC)
        return utc.astimezone(self.tz)

    def slots(self) -> range:
        step, offset = self.step_seconds, self.offset_seconds
        first = (self.epoch(self.since) + offset) // step
        last = (self.epoch(self.until) - 1 + offset) // step
        return range(first, last + 1)


def parse_tz(text: str | None) -> dt.timezone:
    """A UTC offset (``+05:30``, ``-0800``, ``Z``; none: UTC). Raises :class:`BadRequest`."""
    if text is None or text.strip() in ("", "Z", "z", "UTC"):
        return _UTC
    match = _OFFSET.fullmatch(text.strip())
    if match:
        sign, hours, mins = match.groups()
        minutes = int(hours) * 60 + int(mins)
        minutes = -minutes if sign == "-" else minutes
        if int(mins) < 60 and minutes % 15 == 0 and -12 * 60 <= minutes <= 14 * 60:
            return dt.timezone(dt.timedelta(minutes=minutes))
    raise BadRequest(
        "tz: expected a UTC offset such as +05:30, -08:00 or Z (whole quarter hours "
        f"from -12:00 to +14:00), got {text[:40]!r}"
    )


def last_days(days: int, tz: dt.timezone, now: dt.datetime) -> TimeRange:
    """The ``days`` local days up to and including today."""
    today = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    until = today + dt.timedelta(days=1)
    return TimeRange((until - dt.timedelta(days=days)).astimezone(_UTC), until.astimezone(_UTC), tz)


def last_hours(hours: int, tz: dt.timezone, now: dt.datetime) -> TimeRange:
    """The ``hours`` local hours up to and including the current one."""
    this_hour = now.astimezone(tz).replace(minute=0, second=0, microsecond=0)
    until = this_hour + dt.timedelta(hours=1)
    since = until - dt.timedelta(hours=hours)
    return TimeRange(since.astimezone(_UTC), until.astimezone(_UTC), tz)


def custom_range(start: str, end: str, tz: dt.timezone, now: dt.datetime) -> TimeRange:
    """``from``/``to``: local dates (``to`` included) or ISO times (without an offset: local),
    widened to whole 15-minute buckets. Raises :class:`BadRequest` naming the parameter."""
    since = _moment(start, "from", tz, end_of_day=False)
    until = _moment(end, "to", tz, end_of_day=True) if end.strip() else now
    since, until = _floor(since), _ceil(until)
    if until <= since:
        raise BadRequest("to: must be after from")
    if until - since > MAX_SPAN:
        raise BadRequest(f"to: a range covers at most {MAX_SPAN.days} days")
    return TimeRange(since, until, tz)


def _moment(text: str, name: str, tz: dt.timezone, *, end_of_day: bool) -> dt.datetime:
    text = text.strip()
    wrong = BadRequest(
        f"{name}: expected a date (YYYY-MM-DD) or an ISO-8601 time from 1971 to 9000, "
        f"got {text[:40]!r}"
    )
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        when = when if when.tzinfo is not None else when.replace(tzinfo=tz)
        if len(text) == 10 and end_of_day:  # a date: its whole day
            when += dt.timedelta(days=1)
        when = when.astimezone(_UTC)
    except (ValueError, OverflowError):
        raise wrong from None
    if not _EARLIEST <= when <= _LATEST:
        raise wrong
    return when


_EARLIEST = dt.datetime(1971, 1, 1, tzinfo=_UTC)
_LATEST = dt.datetime(9000, 1, 1, tzinfo=_UTC)


def _floor(when: dt.datetime) -> dt.datetime:
    epoch = dt.datetime(1970, 1, 1, tzinfo=_UTC)
    return epoch + (when - epoch) // _BUCKET * _BUCKET


def _ceil(when: dt.datetime) -> dt.datetime:
    floor = _floor(when)
    return floor if floor == when else floor + _BUCKET
