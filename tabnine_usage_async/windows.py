"""Pure UTC calendar maths: parse and format API date-times, and split ranges into windows.

Everything here is UTC, so daylight-saving time never shifts a boundary. Ranges are half-open,
``[start, end)``.

Example::

    >>> from datetime import date
    >>> start, end = to_utc(date(2026, 1, 30)), to_utc(date(2026, 3, 2))
    >>> [w.start.day for w in split_windows(start, end, "month")]
    [30, 1, 1]
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Literal

import attrs

from .errors import InvalidParameterError

__all__ = [
    "LATEST",
    "DateLike",
    "Window",
    "WindowSpec",
    "WindowState",
    "due_windows",
    "format_datetime",
    "parse_datetime",
    "resolve_range",
    "split_windows",
    "to_utc",
    "window_state",
]

UTC = timezone.utc

#: What ``start``/``end`` arguments accept.
DateLike = date | datetime | str

#: How :func:`split_windows` cuts a range: a calendar unit, a fixed length, or ``None`` (whole).
WindowSpec = Literal["day", "week", "month"] | timedelta | None

# RFC 3339 date-time: date, "T" or space, time, optional fraction, "Z" or an offset.
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

_ONE_SECOND = timedelta(seconds=1)

#: Dates from here on are refused: the next month or period boundary would leave year 9999.
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


def parse_datetime(text: str) -> datetime:
    """Parse any RFC 3339 date-time (fractions and offsets allowed) into an aware UTC datetime.

    Raises ``ValueError`` on anything else, including a string without a zone.

    >>> parse_datetime("2026-01-01T02:00:00.5+02:00").isoformat()
    '2026-01-01T00:00:00.500000+00:00'
    """
    match = _RFC3339.match(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 date-time with a zone: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction = match.group(7)
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    zone = match.group(8)
    if zone in ("Z", "z"):
        tz = UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    parsed = datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    return parsed.astimezone(UTC)


def format_datetime(moment: datetime) -> str:
    """Format an aware datetime the way the live API accepts it: UTC, whole seconds, ``Z``.

    Sub-second precision is dropped, because the live API rejects fractional seconds.

    >>> format_datetime(datetime(2026, 1, 1, tzinfo=UTC))
    '2026-01-01T00:00:00Z'
    """
    utc = moment.astimezone(UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"
    )


def to_utc(value: DateLike, *, name: str = "date") -> datetime:
    """Turn a ``date``, an aware ``datetime`` or an RFC 3339 string into an aware UTC datetime.

    A ``date`` (or a ``YYYY-MM-DD`` string) means midnight UTC. A naive ``datetime`` is rejected
    because its zone is ambiguous. Sub-second precision is dropped (the API takes whole seconds).
    Moments from ``LATEST`` (9999-01-01) on are refused: windows and periods after them would end
    past the last year a ``datetime`` can hold.

    Raises:
        InvalidParameterError: naming ``name`` and saying what to pass instead.
    """
    try:
        moment = _to_utc(value, name)
    except OverflowError:
        moment = None
    if moment is None or moment >= LATEST:
        raise InvalidParameterError(
            f"{name} {_shown(value)} is too late: dates must be before {LATEST.date().isoformat()}"
        )
    return moment


def _shown(value: DateLike) -> str:
    return repr(value) if isinstance(value, str) else value.isoformat()


def _to_utc(value: DateLike, name: str) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise InvalidParameterError(
                f"{name} is a naive datetime ({value.isoformat()}); its zone is ambiguous: "
                "pass an aware datetime such as datetime(..., tzinfo=timezone.utc) or a date"
            )
        return value.astimezone(UTC).replace(microsecond=0)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        text = value.strip()
        try:
            if _DATE_ONLY.match(text):
                parsed = date.fromisoformat(text)
                return datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC)
            return parse_datetime(text).replace(microsecond=0)
        except ValueError:
            raise InvalidParameterError(
                f"{name} {value!r} is not a date: use YYYY-MM-DD or an RFC 3339 date-time "
                "with a zone, e.g. 2026-01-01T00:00:00Z"
            ) from None
    raise InvalidParameterError(
        f"{name} must be a date, an aware datetime or an RFC 3339 string, "
        f"not {type(value).__name__}"
    )


def resolve_range(start: DateLike, end: DateLike) -> tuple[datetime, datetime]:
    """Validate a half-open ``[start, end)`` range and return it as UTC datetimes.

    Raises:
        InvalidParameterError: when a bound is invalid or ``end`` is not after ``start``.
    """
    start_utc = to_utc(start, name="start")
    end_utc = to_utc(end, name="end")
    if end_utc <= start_utc:
        raise InvalidParameterError(
            f"end ({format_datetime(end_utc)}) must be after start ({format_datetime(start_utc)}); "
            "ranges are half-open [start, end)"
        )
    return start_utc, end_utc


@attrs.frozen
class Window:
    """One half-open slice ``[start, end)`` of a requested range, in UTC."""

    start: datetime
    end: datetime


def _next_boundary(moment: datetime, unit: str) -> datetime:
    """The first calendar boundary of ``unit`` strictly after ``moment`` (UTC)."""
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "day":
        return midnight + timedelta(days=1)
    if unit == "week":
        # ISO weeks start on Monday.
        return midnight + timedelta(days=7 - midnight.weekday())
    first = midnight.replace(day=1)
    if first.month == 12:
        return first.replace(year=first.year + 1, month=1)
    return first.replace(month=first.month + 1)


def split_windows(start: datetime, end: datetime, window: WindowSpec) -> list[Window]:
    """Split ``[start, end)`` into consecutive windows that cover it exactly, with no overlap.

    ``"day"``, ``"week"`` (ISO, Monday start) and ``"month"`` cut at calendar boundaries, so the
    first and last windows may be partial. A ``timedelta`` cuts fixed lengths from ``start`` (the
    last one may be shorter). ``None`` gives the whole range as one window.

    Raises:
        InvalidParameterError: for an unknown unit or a non-positive ``timedelta``.
    """
    if end <= start:
        raise InvalidParameterError("end must be after start; ranges are half-open [start, end)")
    return list(_iter_windows(start, end, window))


def _iter_windows(start: datetime, end: datetime, window: WindowSpec) -> Iterator[Window]:
    if window is None:
        yield Window(start, end)
        return
    if isinstance(window, timedelta):
        if window <= timedelta(0):
            raise InvalidParameterError(f"window must be a positive timedelta, not {window}")
        if window < timedelta(seconds=1):
            raise InvalidParameterError(
                "window must be at least one second: the API has no finer unit"
            )
        cursor = start
        while cursor < end:
            stop = min(cursor + window, end)
            yield Window(cursor, stop)
            cursor = stop
        return
    if window not in ("day", "week", "month"):
        raise InvalidParameterError(
            f"unknown window {window!r}: use 'day', 'week', 'month', a timedelta, or None"
        )
    cursor = start
    while cursor < end:
        stop = min(_next_boundary(cursor, window), end)
        yield Window(cursor, stop)
        cursor = stop


#: Where a window stands at a moment: every period in it has ``"ended"``; it has begun but a
#: period in it is still running (``"open"``); or it has not begun (``"future"``).
WindowState = Literal["ended", "open", "future"]


def _period_end(moment: datetime, granularity: str) -> datetime:
    """The end of the ``granularity`` period (day, ISO week, month) that holds ``moment``."""
    if granularity == "daily":
        return _next_boundary(moment, "day")
    if granularity == "weekly":
        return _next_boundary(moment, "week")
    return _next_boundary(moment, "month")


def window_state(window: Window, granularity: str, now: datetime) -> WindowState:
    """Whether the usage of ``window`` at ``granularity`` is final at ``now``. Pure.

    A window has ended when the whole last period it touches has ended: with ``monthly``
    granularity a window of 1 to 8 December is final only when December is over, because the
    month's numbers still change until then. With ``all`` the window itself is the period.

    >>> w = Window(datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 8, tzinfo=UTC))
    >>> window_state(w, "daily", datetime(2026, 12, 9, tzinfo=UTC))
    'ended'
    >>> window_state(w, "monthly", datetime(2026, 12, 9, tzinfo=UTC))
    'open'
    """
    if now <= window.start:
        return "future"
    if granularity == "all":
        last_end = window.end
    else:
        last_end = _period_end(window.end - _ONE_SECOND, granularity)
    return "ended" if last_end <= now else "open"


def due_windows(windows: list[Window], granularity: str, now: datetime) -> list[Window]:
    """The windows whose usage is final at ``now``: the only ones a backfill fetches. Pure."""
    return [w for w in windows if window_state(w, granularity, now) == "ended"]
