"""Date-time formatting and strict request parsing for the fake server.

The fake formats its own timestamps on purpose: it must stay an independent check of the
client's wire code, so it shares no helpers with it.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

__all__ = [
    "format_timestamp",
    "midnight",
    "parse_request_datetime",
]

# The live API rejects fractional seconds and naive date-times; an offset is tolerated.
_REQUEST_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(Z|[+-]\d{2}:\d{2})$",
)


def format_timestamp(moment: datetime) -> str:
    """Format an aware datetime the way the server's JSON does: UTC, milliseconds, ``Z``.

    Example: ``2026-01-05T00:00:00.000Z`` (the JavaScript ``toISOString`` shape, so clients
    meet fractional seconds in responses even though they may not send them).
    """
    # ``isoformat`` is a few times cheaper than ``strftime``, which adds up over large listings.
    utc = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return utc.isoformat(timespec="milliseconds") + "Z"


def parse_request_datetime(text: str) -> datetime:
    """Parse a request's date-time strictly: whole seconds and ``Z`` or an offset.

    Raises ``ValueError`` with a readable message for anything else.
    """
    if _REQUEST_DATETIME.match(text) is None:
        raise ValueError(
            f"invalid date-time {text!r}: expected YYYY-MM-DDTHH:MM:SSZ "
            "(whole seconds, with Z or an offset)"
        )
    zone = text[19:]
    moment = datetime.fromisoformat(text[:19] + ("+00:00" if zone == "Z" else zone))
    return moment.astimezone(timezone.utc)


def midnight(day: date) -> datetime:
    """The UTC start of ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
