"""The job of a sync, built and validated once, then handed down as it is.

The CLI builds a ``SyncSpec`` from its arguments (``--dry-run`` prints it), a program builds one
with ``SyncSpec.build(...)``; the planner, the engine and the ledger all take that object and never
parse an argument again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Literal

import attrs

from .._wire import parse_granularity
from ..errors import InvalidParameterError
from ..models import Granularity
from ..streams import Stream, parse_streams
from ..windows import DateLike, format_datetime, to_utc

__all__ = [
    "DEFAULT_LOOKBACK",
    "ApiChoice",
    "CalendarWindow",
    "SyncSpec",
    "parse_lookback",
]

#: Late data: Tabnine aggregates usage after the fact, so a day's numbers can still change for a
#: while after it ends. Three days re-fetches every day of a long weekend on the Monday run at the
#: cost of one request per entity (a window is fetched whole), and the lookback is measured from
#: each unit's last fetch, so a run that was skipped for a week still catches up.
DEFAULT_LOOKBACK = timedelta(days=3)

#: ``auto`` asks the server (v2 and agent usage from Tabnine 6.2, else legacy v1).
ApiChoice = Literal["auto", "v2", "v1"]

#: The calendar unit of a sync's windows (one request per entity and window).
CalendarWindow = Literal["day", "week", "month"]

_LOOKBACK = re.compile(r"^\s*(\d+)\s*([dh]?)\s*$", re.IGNORECASE)
_NESTS: dict[Granularity, tuple[str, ...]] = {
    Granularity.DAILY: ("day", "week", "month"),
    Granularity.WEEKLY: ("week",),
    Granularity.MONTHLY: ("month",),
}


def parse_lookback(value: timedelta | int | str) -> timedelta:
    """Accept a ``timedelta``, whole days, or ``"3d"`` / ``"72h"`` / ``"0"``.

    >>> parse_lookback("2d")
    datetime.timedelta(days=2)
    """
    if isinstance(value, timedelta):
        lookback = value
    elif isinstance(value, int) and not isinstance(value, bool):
        lookback = timedelta(days=value)
    elif isinstance(value, str) and (m := _LOOKBACK.match(value)):
        amount = int(m.group(1))
        lookback = timedelta(hours=amount) if m.group(2).lower() == "h" else timedelta(days=amount)
    else:
        raise InvalidParameterError(
            f"lookback {value!r} is not a duration: use days ('3d', '3') or hours ('72h')"
        )
    if lookback < timedelta(0):
        raise InvalidParameterError(f"lookback must not be negative, not {value!r}")
    return lookback


def _period_start(granularity: Granularity, moment: datetime) -> bool:
    """Whether ``moment`` starts a period of ``granularity``."""
    if moment != moment.replace(hour=0, minute=0, second=0):
        return False
    if granularity is Granularity.WEEKLY:
        return moment.weekday() == 0
    if granularity is Granularity.MONTHLY:
        return moment.day == 1
    return True


@attrs.frozen(kw_only=True)
class SyncSpec:
    """One sync job: where to, which streams, from when, how.

    Build it with :meth:`build`, which validates every value and raises
    ``InvalidParameterError`` with a readable message.

    Attributes:
        destination: where the dataset lives (a ``.sqlite`` file, a folder, a database URL); its
            ``display`` form, never a password, goes to the ledger.
        streams: the streams asked for; ``None`` means the defaults for the server's API.
        since: where the dataset starts. ``None`` continues from the destination's own start; a
            first sync needs it. An earlier ``since`` than the destination's extends it back.
        now: the moment the run syncs up to; ``None`` means the clock at the start of the run.
        lookback: how long after its end a period may still change (see ``DEFAULT_LOOKBACK``).
        granularity: the period of usage rows: daily, weekly or monthly.
        window: one request per entity covers one calendar day, week or month.
        api: ``auto``, ``v2`` or ``v1``.
        batch_rows: rows held before they are written (memory stays bounded by it).
    """

    destination: str
    streams: tuple[Stream, ...] | None = None
    since: datetime | None = None
    now: datetime | None = None
    lookback: timedelta = DEFAULT_LOOKBACK
    granularity: Granularity = Granularity.DAILY
    window: CalendarWindow = "month"
    api: ApiChoice = "auto"
    batch_rows: int = 5000

    @classmethod
    def build(
        cls,
        destination: str,
        *,
        streams: Iterable[str] | str | None = None,
        since: DateLike | None = None,
        now: DateLike | None = None,
        lookback: timedelta | int | str = DEFAULT_LOOKBACK,
        granularity: Granularity | str = Granularity.DAILY,
        window: str = "month",
        api: str = "auto",
        batch_rows: int = 5000,
    ) -> SyncSpec:
        """Validate every value and return the spec; ``InvalidParameterError`` otherwise."""
        if not isinstance(destination, str) or not destination.strip():
            raise InvalidParameterError("a sync needs a destination (--to)")
        gran = parse_granularity(granularity)
        if gran is Granularity.ALL:
            raise InvalidParameterError(
                "granularity 'all' has no periods to keep current: use daily, weekly or monthly"
            )
        win = str(window).strip().lower()
        if win not in ("day", "week", "month"):
            raise InvalidParameterError(f"unknown window {window!r}: use day, week or month")
        if win not in _NESTS[gran]:
            raise InvalidParameterError(
                f"{gran.value} periods do not fit in {win} windows: use a window of "
                f"{' or '.join(_NESTS[gran])}"
            )
        start = None if since is None else to_utc(since, name="since")
        if start is not None and not _period_start(gran, start):
            raise InvalidParameterError(
                f"since ({format_datetime(start)}) must start a {gran.value} period "
                "(midnight UTC; a Monday for weekly, the 1st for monthly)"
            )
        moment = None if now is None else to_utc(now, name="now")
        if start is not None and moment is not None and moment <= start:
            raise InvalidParameterError(
                f"since ({format_datetime(start)}) must be before now ({format_datetime(moment)})"
            )
        if api not in ("auto", "v2", "v1"):
            raise InvalidParameterError(f"unknown api {api!r}: use auto, v2 or v1")
        if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
            raise InvalidParameterError(f"batch_rows must be a positive integer, not {batch_rows}")
        return cls(
            destination=destination.strip(),
            streams=None if streams is None else parse_streams(streams),
            since=start,
            now=moment,
            lookback=parse_lookback(lookback),
            granularity=gran,
            window=win,  # type: ignore[arg-type]
            api=api,  # type: ignore[arg-type]
            batch_rows=batch_rows,
        )

    def to_json(self) -> dict[str, Any]:
        """The job as JSON-ready values, for the ledger and ``--dry-run``."""
        return {
            "streams": None if self.streams is None else [s.name for s in self.streams],
            "since": None if self.since is None else format_datetime(self.since),
            "now": None if self.now is None else format_datetime(self.now),
            "lookback_hours": self.lookback.total_seconds() / 3600,
            "granularity": self.granularity.value,
            "window": self.window,
            "api": self.api,
            "batch_rows": self.batch_rows,
        }
