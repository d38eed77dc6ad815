"""The time range an overview covers, in the viewer's time zone: its bounds, and whether it
is drawn by the hour (48 hours or less) or by the day.

The zone is a name (``Europe/Berlin``, the IANA database through :mod:`zoneinfo`) or a
fixed UTC offset. A named zone's offset changes with daylight saving time, so a range is
cut into :meth:`TimeRange.segments` of one offset each, and its days are the zone's own
(23 or 25 hours at a change). Bounds fall on the rollups' 15-minute buckets
(``storage/rollups.py``), and so do the hours and days of every offset in use since 1972
(whole quarter hours). Bad input raises :class:`BadRequest` naming the parameter and what
it accepts.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from dataclasses import dataclass

from agentwatch.server.errors import BadRequest
from agentwatch.server.storage.rollups import BUCKET_SECONDS

__all__ = ["HOURLY_UP_TO", "TimeRange", "custom_range", "last_days", "last_hours", "parse_tz"]

HOURLY_UP_TO = dt.timedelta(hours=48)
MAX_SPAN = dt.timedelta(days=366)
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")
# An IANA zone name as browsers report it (Europe/Berlin, America/Argentina/Buenos_Aires,
# Etc/GMT+5): no dots, so no path outside the zone database.
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+){0,2}")
# A zone changes its offset at most every few weeks: probing this often finds each change.
_PROBE = 6 * 3600
_BUCKET = dt.timedelta(seconds=BUCKET_SECONDS)
_UTC = dt.timezone.utc


@dataclass(frozen=True)
class TimeRange:
    """[since, until) in UTC, shown in ``tz``, in steps of an hour or a day."""

    since: dt.datetime
    until: dt.datetime
    tz: dt.tzinfo

    @property
    def step(self) -> str:
        """By the hour up to 48 hours on the zone's clock (two local days are 49 real hours
        across a fall-back change, and still drawn by the hour), else by the day."""
        since, until = (
            t.astimezone(self.tz).replace(tzinfo=None) for t in (self.since, self.until)
        )
        return "hour" if until - since <= HOURLY_UP_TO else "day"

    @property
    def step_seconds(self) -> int:
        return 3600 if self.step == "hour" else 86400

    def epoch(self, when: dt.datetime) -> int:
        return int((when - dt.datetime(1970, 1, 1, tzinfo=_UTC)).total_seconds())

    def segments(self) -> list[tuple[int, int, int]]:
        """(since, until, offset) in epoch seconds: the range cut where the zone's UTC offset
        changes (each cut on a 15-minute bucket), ``offset`` how far its clock is ahead of
        UTC there. A fixed offset: one segment."""
        start, end = self.epoch(self.since), self.epoch(self.until)
        offset = _offset_at(self.tz, start)
        if isinstance(self.tz, dt.timezone):
            return [(start, end, offset)]
        # ``probe`` is a bucket of the current ``offset``; ``ahead`` the bucket _PROBE later,
        # or the range's last.
        found, at, probe, last = [], start, start, end - BUCKET_SECONDS
        while probe < last:
            ahead = min(probe + _PROBE, last)
            if _offset_at(self.tz, ahead) == offset:
                probe = ahead
                continue
            # The first bucket of the new offset: after ``low`` (old), at most ``high`` (new).
            low, high = probe, ahead
            while high - low > BUCKET_SECONDS:
                middle = low + (high - low) // BUCKET_SECONDS // 2 * BUCKET_SECONDS
                low, high = (
                    (middle, high) if _offset_at(self.tz, middle) == offset else (low, middle)
                )
            found.append((at, high, offset))
            at, probe, offset = high, high, _offset_at(self.tz, high)
        found.append((at, end, offset))
        return found

    def slots(self) -> list[int]:
        """The numbers of the range's hours or days, in order: a slot's number counts the
        zone's hours or days since 1970-01-01 (``(epoch + offset) // step``)."""
        step = self.step_seconds
        numbers: set[int] = set()
        for since, until, offset in self.segments():
            numbers.update(range((since + offset) // step, (until - 1 + offset) // step + 1))
        return sorted(numbers)

    def slot_start(self, slot: int) -> dt.datetime:
        """The local start of slot number ``slot`` (see ``overview.session_series``)."""
        local = _EPOCH_NAIVE + dt.timedelta(seconds=slot * self.step_seconds)
        return local.replace(tzinfo=self.tz)


_EPOCH_NAIVE = dt.datetime(1970, 1, 1)


def _offset_at(tz: dt.tzinfo, epoch: int) -> int:
    offset = dt.datetime.fromtimestamp(epoch, _UTC).astimezone(tz).utcoffset()
    return 0 if offset is None else int(offset.total_seconds())


def parse_tz(text: str | None) -> dt.tzinfo:
    """A time zone name (``Europe/Berlin``) or a UTC offset (``+05:30``, ``-0800``, ``Z``);
    none: UTC. Raises :class:`BadRequest`."""
    if text is None or text.strip() in ("", "Z", "z", "UTC"):
        return _UTC
    text = text.strip()
    match = _OFFSET.fullmatch(text)
    if match:
        sign, hours, mins = match.groups()
        minutes = int(hours) * 60 + int(mins)
        minutes = -minutes if sign == "-" else minutes
        if int(mins) < 60 and minutes % 15 == 0 and -12 * 60 <= minutes <= 14 * 60:
            return dt.timezone(dt.timedelta(minutes=minutes))
    elif len(text) <= 64 and _ZONE_NAME.fullmatch(text) and text in _zone_names():
        try:
            return zoneinfo.ZoneInfo(text)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise BadRequest(
        "tz: expected a time zone name such as Europe/Berlin or a UTC offset such as "
        f"+05:30, -08:00 or Z (whole quarter hours from -12:00 to +14:00), got {text[:40]!r}"
    )


@functools.cache
def _zone_names() -> frozenset[str]:
    """The IANA zones this machine knows (its zone files, else the tzdata package), without
    files that are not one (``localtime``: the server's own zone, ``posixrules``, ``Factory``)."""
    return frozenset(zoneinfo.available_timezones()) - {"localtime", "posixrules", "Factory"}


def last_days(days: int, tz: dt.tzinfo, now: dt.datetime) -> TimeRange:
    """The ``days`` local days up to and including today (wall-clock arithmetic: a day of
    a daylight saving change is that day, 23 or 25 hours long)."""
    today = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    until = today + dt.timedelta(days=1)
    return TimeRange((until - dt.timedelta(days=days)).astimezone(_UTC), until.astimezone(_UTC), tz)


def last_hours(hours: int, tz: dt.tzinfo, now: dt.datetime) -> TimeRange:
    """The ``hours`` hours up to and including the current local one (real hours: counted
    in UTC, whatever a daylight saving change does to the clock)."""
    this_hour = now.astimezone(tz).replace(minute=0, second=0, microsecond=0)
    until = this_hour.astimezone(_UTC) + dt.timedelta(hours=1)
    return TimeRange(until - dt.timedelta(hours=hours), until, tz)


def custom_range(start: str, end: str, tz: dt.tzinfo, now: dt.datetime) -> TimeRange:
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


def _moment(text: str, name: str, tz: dt.tzinfo, *, end_of_day: bool) -> dt.datetime:
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
