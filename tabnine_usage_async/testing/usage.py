"""Deterministic synthetic usage metrics and their aggregation into wire-format blocks.

Every number is a pure function of ``(seed, user index, day)``. For each day the engine derives a
fixed set of pseudo-random *bit planes* (one bit per user, from ``shake_128(seed, day, plane)``);
a user's metric is a weighted sum of its bits in some planes, so the total for any set of users
is the same weighted sum of ``popcount(members & plane)``. A single user is just the set holding
one user, so per-user numbers, team totals and organization totals come from one code path and
agree exactly; distinct active-user counts are popcounts of OR-ed activity masks.

A day's activity belongs to a block when the day's start (00:00 UTC) lies in the block's
half-open ``[from, to)``.
"""

from __future__ import annotations

import hashlib
import struct
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from ._timefmt import format_timestamp, midnight

__all__ = [
    "GRANULARITIES",
    "BlockTotals",
    "Granularity",
    "below",
    "weighted",
    "UsageEngine",
    "block_json",
    "day_span",
    "split_periods",
]

Granularity = Literal["all", "daily", "weekly", "monthly"]
GRANULARITIES: tuple[Granularity, ...] = ("all", "daily", "weekly", "monthly")

# Activity classes, from never active to active most weekdays.
DORMANT, RARE, LIGHT, REGULAR, HEAVY = range(5)

# Plane numbers. Changing them changes every generated number, so only append.
_A = (0, 1, 2, 3, 4, 5)  # activity
_CHAT, _K0, _K1, _G0, _G1 = 6, 7, 8, 9, 10
_Q = (11, 12, 13, 14, 15, 16)  # completions
_R = (17, 18, 19)  # extra completions for heavy users
_S = (20, 21, 22, 23, 24, 25)  # completed characters
_V = (26, 27, 28, 29, 30, 31, 32)  # typed keystrokes
_T = (33, 34, 35, 36, 37)  # completion lines
_W = (38, 39, 40, 41)  # chat interactions
_X = (42, 43, 44, 45)  # useful chat interactions
_Y = (46, 47, 48)  # chat lines
_Z = (49, 50, 51, 52)  # chat characters
_AG = (53, 54, 55)  # agent sessions
_AT = (56, 57, 58, 59)  # agent tool calls
# Appended for the 6.2 endpoints and the clock (see ``usage_v2``); appending keeps every older
# number unchanged because each plane is hashed from its own number.
HOUR = (60, 61, 62, 63, 64)  # the slot of the day (0..31) when a user's day is complete
CHAT_MODEL = (65, 66)  # which of four chat models a user talks to on a day
CHAT_IN = (67, 68, 69, 70)  # chat input tokens
CHAT_OUT = (71, 72, 73, 74)  # chat output tokens
AGENT_MODEL = (75, 76)  # which of four agent models a user drives on a day
AGENT_CLI = (77, 78)  # both set: the day's agent work ran in the CLI, else in the IDE
LINES_ADDED = (79, 80, 81, 82, 83)
LINES_ADDED_ACCEPTED = (84, 85, 86, 87, 88)
LINES_REMOVED = (89, 90, 91, 92)
LINES_REMOVED_ACCEPTED = (93, 94, 95, 96)
AGENT_IN = (97, 98, 99, 100, 101, 102)
AGENT_OUT = (103, 104, 105, 106, 107)
AGENT_SESSIONS = _AG
AGENT_TOOL_CALLS = _AT
CHAT_INTERACTIONS = _W
_BASE_PLANES = 60  # what v1 needs; the rest are drawn only when asked for
_PLANES = 108
_SLOTS = 32  # a day has 32 slots of 45 minutes for partial days

_COUNT_FIELDS = (
    "completions",
    "chars_completed",
    "keystrokes",
    "code_lines",
    "chat_interactions",
    "useful_chat_interactions",
    "chat_lines",
    "chat_chars",
    "agent_sessions",
    "agent_tool_calls",
)
_ZERO_COUNTS = (0,) * len(_COUNT_FIELDS)
#: From this many users on, a request about one user reads that user's bits alone: below it,
#: operations on masks of every user cost no more than reading one user's bits.
ONE_USER_PATH_FROM = 16_384


@dataclass(frozen=True, slots=True)
class BlockTotals:
    """Summed metrics for one entity over one set of days.

    ``*_users`` are distinct-user counts; ``counts`` follows ``BlockTotals.FIELDS``.
    """

    active_users: int
    code_users: int
    chat_users: int
    agent_users: int
    counts: tuple[int, ...]

    FIELDS = _COUNT_FIELDS

    def count(self, name: str) -> int:
        """The summed value of the count called ``name`` (one of ``FIELDS``)."""
        return self.counts[_COUNT_FIELDS.index(name)]


@dataclass(frozen=True, slots=True)
class _DayPlanes:
    planes: tuple[int, ...]
    code_lines: tuple[int, ...]
    useful: tuple[int, ...]
    chat_lines: tuple[int, ...]
    chat_chars: tuple[int, ...]


def _derive(raw: Sequence[int]) -> _DayPlanes:
    """The planes the formulas combine, derived from a day's raw base planes."""
    useful = tuple(raw[w] & raw[x] for w, x in zip(_W, _X, strict=False))
    return _DayPlanes(
        planes=tuple(raw),
        code_lines=tuple(raw[q] & raw[t] for q, t in zip(_Q, _T, strict=False)),
        useful=useful,
        chat_lines=tuple(u & raw[y] for u, y in zip(useful, _Y, strict=False)),
        chat_chars=tuple(u & raw[z] for u, z in zip(useful, _Z, strict=False)),
    )


@dataclass(frozen=True, slots=True)
class _View:
    """What one day's formulas read: masks over all users, or one user's bits (0 or 1)."""

    alive: int
    planes: _DayPlanes
    classes: tuple[int, int, int, int]  # heavy, regular, light, rare
    chatters: int
    everyone: int
    hours: Callable[[], list[int]]  # the partial day's hour planes, drawn only when needed


def weighted(base: int, planes: Iterable[int]) -> int:
    """Sum over members of ``base`` of each member's binary number spelled by ``planes``."""
    return sum((base & plane).bit_count() << k for k, plane in enumerate(planes))


class _PrefixMasks:
    """Answer "which users have an event on or before day N" from events sorted by day."""

    def __init__(self, events: Iterable[tuple[int, int]]) -> None:
        self._days: list[int] = []
        self._masks: list[int] = []
        mask = 0
        for day, index in sorted(events):
            mask |= 1 << index
            if self._days and self._days[-1] == day:
                self._masks[-1] = mask
            else:
                self._days.append(day)
                self._masks.append(mask)

    def upto(self, day: int) -> int:
        position = bisect_right(self._days, day)
        return self._masks[position - 1] if position else 0


class UsageEngine:
    """Computes per-user-day metrics and block totals for a population of users.

    Users are identified by their index. ``created`` and ``deactivated`` are day ordinals
    (``date.toordinal()``); a user is active on no day before creation, on or after
    deactivation, after ``today``, or at all when unverified (an invitation never accepted).
    """

    def __init__(
        self,
        *,
        seed: int,
        activity_classes: Sequence[int],
        chatters: Sequence[bool],
        verified: Sequence[bool],
        created: Sequence[int],
        deactivated: Sequence[int | None],
        today: date,
        plane_cache_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self._seed = seed
        self._size = len(activity_classes)
        self._nbytes = (self._size + 7) // 8
        self._today = today.toordinal()
        masks = [0] * 5
        chat_mask = 0
        for index, klass in enumerate(activity_classes):
            masks[klass] |= 1 << index
            if chatters[index]:
                chat_mask |= 1 << index
        self._rare, self._light, self._regular, self._heavy = masks[1:]
        self._chatters = chat_mask
        # Per user, for requests about one user (see ``_user_view``).
        self._classes = bytes(activity_classes)
        self._chatter_flags = bytes(map(bool, chatters))
        self._verified_flags = bytes(map(bool, verified))
        self._created_days = list(created)
        self._deactivated_days = list(deactivated)
        self._verified = sum(1 << i for i, flag in enumerate(verified) if flag)
        self._created = _PrefixMasks((day, i) for i, day in enumerate(created))
        self._deactivated = _PrefixMasks(
            (day, i) for i, day in enumerate(deactivated) if day is not None
        )
        per_day = max(1, self._nbytes * (_PLANES + 20))
        self._plane_cache_days = max(64, plane_cache_bytes // per_day)
        self._plane_cache: OrderedDict[int, _DayPlanes] = OrderedDict()
        self._extra_cache: OrderedDict[int, tuple[int, ...]] = OrderedDict()
        self._column_cache: OrderedDict[int, tuple[bytes, ...]] = OrderedDict()
        self._block_cache: OrderedDict[tuple[str, int, int], BlockTotals] = OrderedDict()
        self._block_cache_size = 200_000
        # The clock: days after ``_today`` have no activity; on ``_partial_day`` only users
        # whose day is complete before slot ``_partial_slots`` count (see ``set_clock``).
        self._partial_day: int | None = None
        self._partial_slots = _SLOTS
        # Corrections: per day, (users mask, revision) applied in order (see ``correct``).
        self._corrections: dict[int, list[tuple[int, int]]] = {}
        #: Caches of derived engines (``usage_v2``) cleared with this engine's own caches.
        self.derived_caches: list[OrderedDict[Any, Any]] = []

    @property
    def size(self) -> int:
        """The number of users."""
        return self._size

    @property
    def today(self) -> int:
        """The ordinal of the last day with (possibly partial) activity."""
        return self._today

    def set_clock(self, today: int, partial_slots: int | None = None) -> None:
        """Let activity end on day ordinal ``today``; a partial last day shows fewer users.

        With ``partial_slots`` (0..31) the last day counts only the users whose day is complete
        before that slot of 45 minutes; ``None`` counts the whole day.
        """
        self._today = today
        if partial_slots is None or partial_slots >= _SLOTS:
            self._partial_day, self._partial_slots = None, _SLOTS
        else:
            self._partial_day, self._partial_slots = today, max(0, partial_slots)
        self.invalidate(planes=False)

    def correct(self, day: int, members: int, revision: int) -> None:
        """Re-draw ``members``' numbers on day ordinal ``day`` from plane revision ``revision``."""
        self._corrections.setdefault(day, []).append((members, revision))
        self._plane_cache.pop(day, None)
        self._extra_cache.pop(day, None)
        self._column_cache.pop(day, None)
        self.invalidate(planes=False)

    @property
    def corrections(self) -> dict[int, list[tuple[int, int]]]:
        """The corrections applied so far, by day ordinal (read-only use)."""
        return self._corrections

    def invalidate(self, *, planes: bool = True) -> None:
        """Forget cached totals (and cached planes when ``planes``)."""
        if planes:
            self._plane_cache.clear()
            self._extra_cache.clear()
            self._column_cache.clear()
        self._block_cache.clear()
        for cache in self.derived_caches:
            cache.clear()

    @property
    def all_users_mask(self) -> int:
        """The mask holding every user."""
        return (1 << self._size) - 1

    def _planes(self, day: int) -> _DayPlanes:
        cached = self._plane_cache.get(day)
        if cached is not None:
            self._plane_cache.move_to_end(day)
            return cached
        planes = _derive(self._draw_planes(day, range(_BASE_PLANES)))
        self._plane_cache[day] = planes
        if len(self._plane_cache) > self._plane_cache_days:
            self._plane_cache.popitem(last=False)
        return planes

    def _draw(self, day: int, plane: int, revision: int) -> int:
        if revision == 0:
            key = struct.pack("<qqq", self._seed, day, plane)
        else:
            key = struct.pack("<qqqq", self._seed, day, plane, revision)
        return int.from_bytes(hashlib.shake_128(key).digest(self._nbytes), "little")

    def _draw_planes(self, day: int, numbers: range) -> list[int]:
        raw = [self._draw(day, plane, 0) for plane in numbers]
        for members, revision in self._corrections.get(day, ()):
            raw = [
                (bits & ~members) | (self._draw(day, plane, revision) & members)
                for plane, bits in zip(numbers, raw, strict=True)
            ]
        return raw

    def _extra(self, day: int) -> tuple[int, ...]:
        cached = self._extra_cache.get(day)
        if cached is not None:
            self._extra_cache.move_to_end(day)
            return cached
        extra = tuple(self._draw_planes(day, range(_BASE_PLANES, _PLANES)))
        self._extra_cache[day] = extra
        if len(self._extra_cache) > self._plane_cache_days:
            self._extra_cache.popitem(last=False)
        return extra

    def _columns(self, day: int) -> tuple[bytes, ...]:
        """The day's base planes as bytes, where one user's bit is read in constant time."""
        cached = self._column_cache.get(day)
        if cached is not None:
            self._column_cache.move_to_end(day)
            return cached
        columns = tuple(
            plane.to_bytes(self._nbytes, "little") for plane in self._planes(day).planes
        )
        self._column_cache[day] = columns
        if len(self._column_cache) > self._plane_cache_days:
            self._column_cache.popitem(last=False)
        return columns

    def planes(self, day: int) -> tuple[int, ...]:
        """All raw bit planes of day ordinal ``day`` (corrections applied), by plane number."""
        return self._planes(day).planes + self._extra(day)

    def day_masks(self, day: int, members: int) -> tuple[int, int, int, int, tuple[int, ...]]:
        """Activity masks (any, code, chat, agent) and summed counts for ``members`` on ``day``."""
        if day > self._today or members == 0:
            return 0, 0, 0, 0, _ZERO_COUNTS
        if self._size >= ONE_USER_PATH_FROM and members.bit_count() == 1:
            index = members.bit_length() - 1
            active, code, chat, agent, counts = self._user_day(day, index)
            return active << index, code << index, chat << index, agent << index, counts
        alive = self._created.upto(day) & ~self._deactivated.upto(day) & self._verified & members
        if alive == 0:
            return 0, 0, 0, 0, _ZERO_COUNTS
        hours: Callable[[], list[int]] = lambda: [  # noqa: E731
            self._extra(day)[i - _BASE_PLANES] for i in HOUR
        ]
        classes = (self._heavy, self._regular, self._light, self._rare)
        everyone = self.all_users_mask
        return self._combine(
            day, _View(alive, self._planes(day), classes, self._chatters, everyone, hours)
        )

    def _user_day(self, day: int, index: int) -> tuple[int, int, int, int, tuple[int, ...]]:
        """``day_masks`` of user ``index`` alone, with the user's bit at position 0.

        Every mask is an integer as wide as the organization, so the same formulas run on the
        user's bits alone: a request about one user costs the same in any organization.
        """
        if day > self._today:
            return 0, 0, 0, 0, _ZERO_COUNTS
        view = self._user_view(day, index)
        if view is None:
            return 0, 0, 0, 0, _ZERO_COUNTS
        return self._combine(day, view)

    def _user_view(self, day: int, index: int) -> _View | None:
        """The inputs of ``day`` reduced to user ``index``'s bit; ``None`` when not alive."""
        gone = self._deactivated_days[index]
        if (
            not self._verified_flags[index]
            or self._created_days[index] > day
            or (gone is not None and gone <= day)
        ):
            return None
        byte, shift = index >> 3, index & 7
        planes = _derive([(column[byte] >> shift) & 1 for column in self._columns(day)])
        klass = self._classes[index]
        classes = (int(klass == 4), int(klass == 3), int(klass == 2), int(klass == 1))
        hours: Callable[[], list[int]] = lambda: [  # noqa: E731
            (self._extra(day)[i - _BASE_PLANES] >> index) & 1 for i in HOUR
        ]
        return _View(1, planes, classes, self._chatter_flags[index], 1, hours)

    def _combine(self, day: int, view: _View) -> tuple[int, int, int, int, tuple[int, ...]]:
        """The day's activity masks and counts from ``view`` (all users' bits, or one's)."""
        alive, dp = view.alive, view.planes
        p = dp.planes
        if day == self._partial_day:
            alive &= below(view.hours(), self._partial_slots, view.everyone)
        heavy, regular, light, rare = view.classes
        a0, a1, a2, a3, a4, a5 = (p[i] for i in _A)
        active = (
            (heavy & (a0 | a1)) | (regular & a0) | (light & a0 & a1) | (rare & a0 & a1 & a2 & a3)
        )
        if date.fromordinal(day).weekday() >= 5:
            active &= a4 & a5
        active &= alive
        if active == 0:
            return 0, 0, 0, 0, _ZERO_COUNTS
        chat = active & view.chatters & p[_CHAT]
        code = active & ~(chat & p[_K0] & p[_K1])
        agent = active & p[_G0] & p[_G1]
        completions = (
            code.bit_count()
            + weighted(code, (p[i] for i in _Q))
            + (weighted(code & heavy, (p[i] for i in _R)) << 3)
        )
        chat_useful = weighted(chat, dp.useful)
        chat_lines = 4 * chat_useful + weighted(chat, dp.chat_lines)
        sessions = agent.bit_count() + weighted(agent, (p[i] for i in _AG))
        counts = (
            completions,
            28 * completions + weighted(code, (p[i] for i in _S)),
            45 * completions + weighted(code, (p[i] for i in _V)),
            code.bit_count() + weighted(code, dp.code_lines),
            chat.bit_count() + weighted(chat, (p[i] for i in _W)),
            chat_useful,
            chat_lines,
            38 * chat_lines + weighted(chat, dp.chat_chars),
            sessions,
            3 * sessions + weighted(agent, (p[i] for i in _AT)),
        )
        return active, code, chat, agent, counts

    def totals(
        self, first_day: int, end_day: int, members: int, cache_key: str | None = None
    ) -> BlockTotals:
        """Totals for ``members`` over day ordinals ``[first_day, end_day)``.

        With a ``cache_key`` (an entity name) the result is remembered, which keeps repeated
        organization and team requests cheap.
        """
        key = (cache_key, first_day, end_day) if cache_key is not None else None
        if key is not None:
            hit = self._block_cache.get(key)
            if hit is not None:
                return hit
        one = self._size >= ONE_USER_PATH_FROM and members.bit_count() == 1
        index = members.bit_length() - 1
        active = code = chat = agent = 0
        sums = [0] * len(_COUNT_FIELDS)
        for day in range(first_day, min(end_day, self._today + 1)):
            d_active, d_code, d_chat, d_agent, counts = (
                self._user_day(day, index) if one else self.day_masks(day, members)
            )
            if d_active == 0:
                continue
            active |= d_active
            code |= d_code
            chat |= d_chat
            agent |= d_agent
            for i, value in enumerate(counts):
                sums[i] += value
        result = BlockTotals(
            active.bit_count(), code.bit_count(), chat.bit_count(), agent.bit_count(), tuple(sums)
        )
        if key is not None:
            self._block_cache[key] = result
            if len(self._block_cache) > self._block_cache_size:
                self._block_cache.popitem(last=False)
        return result


def below(planes: Sequence[int], bound: int, everyone: int) -> int:
    """The users whose binary number spelled by ``planes`` (low bit first) is below ``bound``."""
    if bound >= 1 << len(planes):
        return everyone
    result, equal = 0, everyone
    for position in range(len(planes) - 1, -1, -1):
        plane = planes[position]
        if (bound >> position) & 1:
            result |= equal & ~plane
            equal &= plane
        else:
            equal &= ~plane
    return result


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def block_json(start: datetime, end: datetime, totals: BlockTotals) -> dict[str, Any]:
    """One usage block exactly as the server writes it, including an ``agent`` extension.

    Ratios come from the block's summed counts: ``automationFactor`` is completed characters
    over completed plus typed characters, ``chatConsumptionRate`` is useful over all chat
    interactions, and ``productivityFactor`` is AI-written characters (completions and useful
    chat) over those plus typed characters. Each is ``0.0`` when its denominator is zero.
    """
    (
        completions,
        chars,
        keystrokes,
        code_lines,
        interactions,
        useful,
        chat_lines,
        chat_chars,
        sessions,
        tool_calls,
    ) = totals.counts
    return {
        "from": format_timestamp(start),
        "to": format_timestamp(end),
        "activeUsers": totals.active_users,
        "productivityFactor": _ratio(chars + chat_chars, chars + chat_chars + keystrokes),
        "codeCompletions": {
            "activeUsers": totals.code_users,
            "completions": completions,
            "charsCompleted": chars,
            "keystrokes": keystrokes,
            "lines": code_lines,
            "automationFactor": _ratio(chars, chars + keystrokes),
        },
        "chat": {
            "activeUsers": totals.chat_users,
            "interactions": interactions,
            "usefulChatInteractions": useful,
            "lines": chat_lines,
            "charsCompleted": chat_chars,
            "chatConsumptionRate": _ratio(useful, interactions),
        },
        "agent": {
            "activeUsers": totals.agent_users,
            "sessions": sessions,
            "toolCalls": tool_calls,
        },
    }


def _period_floor(moment: datetime, granularity: Granularity) -> datetime:
    start = midnight(moment.date())
    if granularity == "weekly":
        return start - timedelta(days=start.weekday())
    if granularity == "monthly":
        return start.replace(day=1)
    return start


def _period_next(start: datetime, granularity: Granularity) -> datetime:
    if granularity == "daily":
        return start + timedelta(days=1)
    if granularity == "weekly":
        return start + timedelta(days=7)
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


def split_periods(
    start: datetime, end: datetime, granularity: Granularity
) -> list[tuple[datetime, datetime]]:
    """Split ``[start, end)`` into UTC periods, each clipped to the range.

    ``daily`` uses calendar days, ``weekly`` ISO weeks starting Monday, ``monthly`` calendar
    months, and ``all`` one period for the whole range. Every period in the range is listed,
    including those without activity.
    """
    if end <= start:
        return []
    if granularity == "all":
        return [(start, end)]
    periods = []
    boundary = _period_floor(start, granularity)
    while boundary < end:
        following = _period_next(boundary, granularity)
        periods.append((max(start, boundary), min(end, following)))
        boundary = following
    return periods


def day_span(start: datetime, end: datetime) -> tuple[int, int]:
    """Day ordinals ``[first, end)`` of the days whose 00:00 UTC lies in ``[start, end)``."""

    def ceil_day(moment: datetime) -> int:
        day = moment.date()
        return day.toordinal() + (0 if midnight(day) == moment else 1)

    return ceil_day(start), ceil_day(end)
