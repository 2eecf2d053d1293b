"""A deterministic synthetic Tabnine organization: teams, users, license and usage.

``Dataset(seed=7, teams=20, users=500)`` always builds the same organization, and the fake server
serves it byte for byte the same way. The records here are the ground truth that tests compare
the client's results with::

    data = Dataset(seed=3, teams=4, users=40)
    team = data.teams[1]
    members = [data.user(uid) for uid in team.member_ids]
    blocks = data.usage_blocks("team", team.id, start, end, "weekly")

Shape of the organization: the first team is the default team (``isDefaultTeam: true``); team
sizes follow a Zipf-like spread; a few users belong to no team (active and deactivated ones);
at least one user belongs to two teams (about one in 250 when the organization is large); about
6% of users never accepted their invitation (``verified: false``, never active) and about 7% are
deactivated. Usage is computed lazily by :class:`~.usage.UsageEngine`; the 6.2 numbers (v2
buckets, agent usage) by :class:`~.usage_v2.V2Engine` from the same per-user, per-day activity,
and audit events and invitations by :mod:`~.roster` from the same roster.

Ground truth for the 6.2 routes: :meth:`Dataset.usage_v2_buckets`,
:meth:`Dataset.agent_usage_points`, :meth:`Dataset.audit_events`, :meth:`Dataset.invitations`,
:meth:`Dataset.team_json`. Changing the data on purpose: :meth:`Dataset.set_now` (the clock; a
day it cuts is partial), :meth:`Dataset.correct` (re-draw a past day, everywhere at once),
:meth:`Dataset.add_user` and :meth:`Dataset.deactivate_user`. Each change clears the caches,
so every later answer reflects it.

Assumptions where the sources are silent: v2 and agent usage hold every day of activity,
also days before a 6.2 upgrade (``FakeServerConfig.v1_cutover`` affects v1 only); no range is
too long; moving the clock back hides activity and audit events after it but not users.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Literal

from ._names import COMPANIES, FIRST_NAMES, LAST_NAMES, TEAM_NAMES
from ._timefmt import midnight
from .roster import audit_events, invitations
from .usage import Granularity, UsageEngine, block_json, day_span, split_periods
from .usage_v2 import V2Engine, agent_point_json, v2_bucket_json

__all__ = [
    "DEFAULT_TODAY",
    "Dataset",
    "Organization",
    "Scope",
    "Team",
    "User",
    "UserDayMetrics",
]

Scope = Literal["organization", "team", "user"]

#: The fixed "today" of generated organizations: usage stops here and relative defaults (such as
#: the last 12 months of account utilizations) count back from it, never from the wall clock.
DEFAULT_TODAY = date(2026, 1, 15)

_IDES = ("vscode", "intellij", "vscode,intellij", "eclipse", "visualstudio")
_LANGUAGES = ("python", "typescript", "java", "go", "csharp", "rust", "kotlin")
_ROLES_WEIGHTS = (("Member", 90), ("Manager", 7), ("Admin", 3))
_ACTIVITY_WEIGHTS = (8, 22, 30, 25, 15)  # dormant, rare, light, regular, heavy


@dataclass(frozen=True, slots=True)
class Organization:
    """The organization's settings, as served by ``GET /api/v1/organization``."""

    id: str
    name: str
    domain: str
    plan_type: str
    public_key: str
    saml_enabled: bool
    smtp_configured: bool
    username_password_enabled: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Team:
    """One team. ``member_ids`` lists user ids in the order the server pages them."""

    id: str
    name: str
    is_default: bool
    member_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class User:
    """One user. ``index`` is the user's position in ``Dataset.users``.

    ``username`` is the display name; the permissions endpoint reports the email as username.
    ``team_ids`` is empty for users assigned to no team.
    """

    index: int
    id: str
    email: str
    username: str
    role: str
    verified: bool
    created_at: datetime
    updated_at: datetime
    deactivated_at: datetime | None
    team_ids: tuple[str, ...]

    @property
    def active(self) -> bool:
        """Whether the user is not deactivated."""
        return self.deactivated_at is None


@dataclass(frozen=True, slots=True)
class UserDayMetrics:
    """The raw numbers one user produced on one UTC day (all zero when inactive)."""

    user_id: str
    day: date
    active: bool
    code_active: bool
    chat_active: bool
    agent_active: bool
    completions: int
    chars_completed: int
    keystrokes: int
    code_lines: int
    chat_interactions: int
    useful_chat_interactions: int
    chat_lines: int
    chat_chars: int
    agent_sessions: int
    agent_tool_calls: int


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _at(day: date, rng: random.Random) -> datetime:
    seconds = rng.randrange(86_400)
    return datetime.combine(day, time(tzinfo=timezone.utc)) + timedelta(seconds=seconds)


def _mask(indexes: Sequence[int]) -> int:
    return sum(1 << index for index in set(indexes))


def _email_local(first: str, last: str) -> str:
    return "".join(c for c in f"{first}.{last}".lower() if c.isalnum() or c == ".")


class Dataset:
    """A synthetic organization built from ``seed``: same arguments, same organization.

    ``teams`` counts all teams including the default team; ``empty_teams`` adds teams without
    members after them. ``today`` is the last day with usage.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        teams: int = 5,
        users: int = 50,
        empty_teams: int = 0,
        today: date = DEFAULT_TODAY,
    ) -> None:
        if teams < 0 or users < 0 or empty_teams < 0:
            raise ValueError("teams, users and empty_teams must not be negative")
        self.seed = seed
        self.today = today
        rng = random.Random(seed)
        company = rng.choice(COMPANIES)
        domain = company.lower().replace(" ", "-") + ".example.com"
        org_created = today - timedelta(days=rng.randrange(700, 1400))
        key_body = base64.b64encode(rng.randbytes(96)).decode()
        self.organization = Organization(
            id=_uuid(rng),
            name=company,
            domain=domain,
            plan_type="Enterprise",
            public_key=f"-----BEGIN PUBLIC KEY-----\n{key_body}\n-----END PUBLIC KEY-----\n",
            saml_enabled=rng.random() < 0.5,
            smtp_configured=True,
            username_password_enabled=rng.random() < 0.7,
            created_at=_at(org_created, rng),
        )
        team_ids = [_uuid(rng) for _ in range(teams + empty_teams)]
        self._team_order = team_ids
        self._default_teams = teams
        self.users: tuple[User, ...] = self._make_users(rng, users, teams, team_ids, org_created)
        self._now = midnight(today + timedelta(days=1))
        # Corrections as (day, user indexes or None for everyone, revision), replayed on rebuild.
        self._corrections: list[tuple[date, tuple[int, ...] | None, int]] = []
        self._events: list[dict[str, Any]] | None = None
        self._rebuild()

    def _rebuild(self) -> None:
        """Derive teams, lookups, masks and the usage engines from ``self.users``."""
        self.teams: tuple[Team, ...] = self._make_teams(self._team_order, self._default_teams)
        self._users_by_id = {user.id: user for user in self.users}
        self._users_by_email = {user.email.casefold(): user for user in self.users}
        self._teams_by_id = {team.id: team for team in self.teams}
        self._team_masks = {
            team.id: sum(1 << self._users_by_id[uid].index for uid in team.member_ids)
            for team in self.teams
        }
        self._engine = UsageEngine(
            seed=self.seed,
            activity_classes=self._activity_classes,
            chatters=self._chatters,
            verified=[user.verified for user in self.users],
            created=[user.created_at.date().toordinal() for user in self.users],
            deactivated=[
                None if user.deactivated_at is None else user.deactivated_at.date().toordinal()
                for user in self.users
            ],
            today=self.today,
        )
        self._v2 = V2Engine(self._engine)
        for day, indexes, revision in self._corrections:
            mask = self._engine.all_users_mask if indexes is None else _mask(indexes)
            self._engine.correct(day.toordinal(), mask, revision)
        self._apply_clock()
        self._events = None
        # Listings page through these, so each is derived once per change, not once per page.
        self._unassigned_ids = {
            active: tuple(u.id for u in self.users if not u.team_ids and u.active == active)
            for active in (True, False)
        }
        self._assigned_ids = {
            active: tuple(u.id for u in self.users if u.team_ids and u.active == active)
            for active in (True, False)
        }
        self._invitations: dict[str | None, tuple[dict[str, Any], ...]] = {}
        # Filled per team on first use: a user listing writes every listed user's teams, and
        # counting a team's members each time made the listing quadratic in team size.
        self._utilization: dict[str, dict[str, int]] = {}

    def _make_users(
        self,
        rng: random.Random,
        count: int,
        teams: int,
        team_ids: Sequence[str],
        org_created: date,
    ) -> tuple[User, ...]:
        span = max(1, (self.today - org_created).days)
        roles = [role for role, _ in _ROLES_WEIGHTS]
        role_weights = [weight for _, weight in _ROLES_WEIGHTS]
        # Zipf-like sizes, shuffled so the biggest team is not always the second one.
        ranks = list(range(1, teams + 1))
        rng.shuffle(ranks)
        team_weights = [1.0 / rank**1.1 for rank in ranks]
        picks = rng.choices(range(teams), team_weights, k=count) if teams else []
        taken: dict[str, int] = {}
        users: list[User] = []
        self._activity_classes: list[int] = []
        self._chatters: list[bool] = []
        assigned = 0
        second_team_every = 250
        for index in range(count):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            local = _email_local(first, last)
            seen = taken.get(local, 0)
            taken[local] = seen + 1
            email = f"{local}{seen + 1 if seen else ''}@{self.organization.domain}"
            owner = index == 0
            deactivated = not owner and rng.random() < 0.07
            verified = owner or rng.random() < 0.94
            unassigned = teams == 0 or (not owner and rng.random() < 0.06)
            if count >= 4 and index == count - 1:
                deactivated, unassigned = True, True
            elif count >= 4 and index == count - 2:
                deactivated, unassigned, verified = False, True, True
            created_day = org_created + timedelta(days=int(span * rng.random() ** 0.7))
            created_at = _at(min(created_day, self.today - timedelta(days=1)), rng)
            remaining = max(1, (self.today - created_at.date()).days)
            updated_at = created_at + timedelta(days=rng.randrange(remaining), hours=1)
            deactivated_at = (
                created_at + timedelta(days=1 + rng.randrange(remaining), minutes=7)
                if deactivated
                else None
            )
            if deactivated_at is not None:
                updated_at = deactivated_at
            memberships: tuple[str, ...] = ()
            if not unassigned:
                # The first members go round-robin so that every team has someone.
                team = assigned if assigned < teams else picks[index]
                memberships = (team_ids[team],)
                if teams >= 2 and assigned % second_team_every == min(3, count // 2):
                    other = (team + 1 + rng.randrange(teams - 1)) % teams
                    memberships = (team_ids[team], team_ids[other])
                assigned += 1
            users.append(
                User(
                    index=index,
                    id=_uuid(rng),
                    email=email,
                    username=f"{first} {last}",
                    role="Admin" if owner else rng.choices(roles, role_weights)[0],
                    verified=verified,
                    created_at=created_at,
                    updated_at=updated_at,
                    deactivated_at=deactivated_at,
                    team_ids=memberships,
                )
            )
            self._activity_classes.append(
                3 if owner else rng.choices(range(5), _ACTIVITY_WEIGHTS)[0]
            )
            self._chatters.append(rng.random() < 0.65)
        return tuple(users)

    def _make_teams(self, team_ids: Sequence[str], teams: int) -> tuple[Team, ...]:
        members: dict[str, list[str]] = {tid: [] for tid in team_ids}
        for user in self.users:
            for tid in user.team_ids:
                members[tid].append(user.id)
        names: list[str] = []
        for position in range(len(team_ids)):
            if position == 0 and teams > 0:
                names.append("Default Team")
                continue
            base = TEAM_NAMES[(position - 1) % len(TEAM_NAMES)]
            lap = (position - 1) // len(TEAM_NAMES)
            names.append(base if lap == 0 else f"{base} {lap + 1}")
        return tuple(
            Team(
                id=tid,
                name=names[position],
                is_default=position == 0 and teams > 0,
                member_ids=tuple(members[tid]),
            )
            for position, tid in enumerate(team_ids)
        )

    # Clock, corrections and roster changes ----------------------------------------------------

    @property
    def now(self) -> datetime:
        """The dataset's clock: no activity or audit event lies at or after it.

        By default midnight after ``today``. A day that ``now`` cuts is partial: only the users
        whose day was complete by then (a per-user, per-day slot of 45 minutes) count, so a
        period that has not ended holds part of its final numbers.
        """
        return self._now

    def set_now(self, moment: datetime) -> None:
        """Move the clock to ``moment`` (an aware datetime); every derived number follows."""
        if moment.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        self._now = moment.astimezone(timezone.utc)
        self._apply_clock()
        self._events = None

    def _apply_clock(self) -> None:
        last = (self._now - timedelta(microseconds=1)).date()
        elapsed = (self._now - midnight(self._now.date())).total_seconds()
        slots = None if elapsed == 0 else int(elapsed * 32 // 86_400)
        self.today = last
        self._engine.set_clock(last.toordinal(), slots)

    def correct(
        self, day: date, user_ids: Sequence[str] | None = None, *, revision: int | None = None
    ) -> int:
        """Change past data: re-draw the numbers of ``user_ids`` (default: everyone) on ``day``.

        Every number derived from that day (v1 blocks, v2 buckets, agent usage) changes
        consistently, as when the live server corrects late-arriving data. Returns the
        revision used (by default one more than the day's last).
        """
        indexes = None if user_ids is None else tuple(self.user(uid).index for uid in user_ids)
        if revision is None:
            revision = 1 + max((r for d, _, r in self._corrections if d == day), default=0)
        if revision < 1:
            raise ValueError("revision must be positive")
        self._corrections.append((day, indexes, revision))
        mask = self._engine.all_users_mask if indexes is None else _mask(indexes)
        self._engine.correct(day.toordinal(), mask, revision)
        return revision

    def add_user(
        self,
        at: datetime,
        *,
        team_ids: Sequence[str] = (),
        role: str = "Member",
        verified: bool = True,
        email: str | None = None,
        username: str = "New User",
    ) -> User:
        """Add a user created at ``at`` (aware) to ``team_ids``; returns it.

        The new user is a regular, chatting user: active on most weekdays from its creation day.
        """
        for tid in team_ids:
            self.team(tid)
        index = len(self.users)
        rng = random.Random(f"{self.seed}:added:{index}")
        local = f"new.user{index}"
        user = User(
            index=index,
            id=_uuid(rng),
            email=email or f"{local}@{self.organization.domain}",
            username=username,
            role=role,
            verified=verified,
            created_at=at.astimezone(timezone.utc),
            updated_at=at.astimezone(timezone.utc),
            deactivated_at=None,
            team_ids=tuple(dict.fromkeys(team_ids)),
        )
        self.users = (*self.users, user)
        self._activity_classes.append(3)
        self._chatters.append(True)
        self._rebuild()
        return user

    def deactivate_user(self, user_id: str, at: datetime) -> User:
        """Deactivate a user at ``at`` (aware): no activity from that day on; returns it."""
        old = self.user(user_id)
        moment = at.astimezone(timezone.utc)
        new = dataclasses.replace(old, deactivated_at=moment, updated_at=moment)
        self.users = tuple(new if u.index == old.index else u for u in self.users)
        self._rebuild()
        return new

    # Ground-truth lookups -------------------------------------------------------------------

    def user(self, user_id: str) -> User:
        """The user with ``user_id``; ``KeyError`` when unknown."""
        return self._users_by_id[user_id]

    def team(self, team_id: str) -> Team:
        """The team with ``team_id``; ``KeyError`` when unknown."""
        return self._teams_by_id[team_id]

    def team_members(self, team_id: str) -> list[User]:
        """The members of a team, active and deactivated, in paging order."""
        return [self._users_by_id[uid] for uid in self.team(team_id).member_ids]

    def unassigned_user_ids(self, active: bool) -> list[str]:
        """Ids of users in no team that are active (``True``) or deactivated (``False``)."""
        return list(self._unassigned_ids[active])

    def assigned_user_ids(self, active: bool) -> list[str]:
        """Ids of users in at least one team that are active or deactivated."""
        return list(self._assigned_ids[active])

    def user_ids(self, *, team_member: bool, active: bool) -> tuple[str, ...]:
        """The ids ``/api/v1/organization/users`` pages through, in paging order.

        The same tuple until the roster changes, so a page costs its own size.
        """
        return (self._assigned_ids if team_member else self._unassigned_ids)[active]

    def users_with_role(self, role: str) -> list[User]:
        """Active users whose role equals ``role`` (case-insensitive), e.g. ``"Admin"``."""
        wanted = role.casefold()
        return [u for u in self.users if u.active and u.role.casefold() == wanted]

    def team_utilization(self, team_id: str) -> dict[str, int]:
        """``{registered, deactivated, invited}`` for a team; the three add up to its size."""
        counts = self._utilization.get(team_id)
        if counts is None:
            members = self.team_members(team_id)
            counts = {
                "registered": sum(1 for u in members if u.active and u.verified),
                "deactivated": sum(1 for u in members if not u.active),
                "invited": sum(1 for u in members if u.active and not u.verified),
            }
            self._utilization[team_id] = counts
        # A copy: callers may change what they get without changing the cache.
        return dict(counts)

    def license(self, *, agent: bool = True) -> dict[str, Any]:
        """The ``license`` object of ``GET /api/v1/license`` (``agent``: with the Agent feature)."""
        seats = max(50, -(-len(self.users) // 50) * 50)
        issued = self.organization.created_at.replace(hour=0, minute=0, second=0)
        expires = datetime.combine(
            self.today + timedelta(days=365), time(tzinfo=timezone.utc)
        ).replace(month=1, day=1)
        return {
            "exp": int(expires.timestamp()),
            "seats": seats,
            "seatsCap": seats * 11,
            "audience": "idp-new",
            "features": ["chat", "chat_models", "local_retrieval", "remote_indexing"]
            + (["agent"] if agent else []),
            "settings": {"chatModel": {"type": "Private"}},
            "iat": int(issued.timestamp()),
        }

    def account_utilizations(
        self, start_month: tuple[int, int] | None = None
    ) -> list[dict[str, int]]:
        """Monthly utilization from ``(year, month)`` (1-based) up to today's month.

        Without ``start_month`` the last 12 months up to ``today`` are returned. On the wire
        ``month`` is zero-based (0 = January), as the live API does. ``active`` equals the
        organization's monthly ``activeUsers`` for that month.
        """
        if start_month is None:
            year, month = self.today.year, self.today.month - 11
            if month < 1:
                year, month = year - 1, month + 12
        else:
            year, month = start_month
        rows: list[dict[str, int]] = []
        last = (self.today.year, self.today.month)
        while (year, month) <= last:
            first_day = date(year, month, 1)
            next_month = date(year + month // 12, month % 12 + 1, 1)
            end_ord = min(next_month, self.today + timedelta(days=1)).toordinal()
            created = [u for u in self.users if u.created_at.date().toordinal() < end_ord]
            gone = sum(
                1
                for u in created
                if u.deactivated_at is not None and u.deactivated_at.date().toordinal() < end_ord
            )
            present = [
                u
                for u in created
                if u.deactivated_at is None or u.deactivated_at.date().toordinal() >= end_ord
            ]
            totals = self._engine.totals(
                first_day.toordinal(), end_ord, self._engine.all_users_mask, "organization"
            )
            rows.append(
                {
                    "year": year,
                    "month": month - 1,
                    "registered": sum(1 for u in present if u.verified),
                    "deactivated": gone,
                    "active": totals.active_users,
                    "pending": sum(1 for u in present if not u.verified),
                }
            )
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return rows

    # Usage ------------------------------------------------------------------------------------

    def _members(self, scope: Scope, entity_id: str) -> tuple[int, str | None]:
        if scope == "organization":
            if entity_id != self.organization.id:
                raise KeyError(entity_id)
            return self._engine.all_users_mask, "organization"
        if scope == "team":
            return self._team_masks[entity_id], f"team:{entity_id}"
        return 1 << self._users_by_id[entity_id].index, None

    def usage_blocks(
        self,
        scope: Scope,
        entity_id: str,
        start: datetime,
        end: datetime,
        granularity: Granularity,
        *,
        v1_cutover: date | None = None,
    ) -> list[dict[str, Any]]:
        """The exact wire JSON usage blocks the server returns for this request.

        ``start`` and ``end`` are aware datetimes; blocks cover ``[start, end)`` clipped to it.
        With ``v1_cutover`` (a 6.2 server's upgrade day) days from it on count as inactive, as
        the legacy v1 endpoints of a 6.2 server never learn of them. ``KeyError`` when the
        entity is unknown.
        """
        members, cache_key = self._members(scope, entity_id)
        stop = None if v1_cutover is None else v1_cutover.toordinal()
        blocks = []
        for block_start, block_end in split_periods(start, end, granularity):
            first_day, end_day = day_span(block_start, block_end)
            if stop is not None:
                end_day = max(first_day, min(end_day, stop))
            totals = self._engine.totals(first_day, end_day, members, cache_key)
            blocks.append(block_json(block_start, block_end, totals))
        return blocks

    def usage_v2_buckets(
        self,
        scope: Scope,
        entity_id: str,
        start: datetime,
        end: datetime,
        granularity: Granularity,
    ) -> list[dict[str, Any]]:
        """The exact wire JSON buckets of ``GET /api/v2/{scope}/usage`` for this request.

        Same periods as :meth:`usage_blocks`; per-model rows only for ``granularity="all"``;
        ``ides`` and ``languages`` only on a user's buckets in which the user was active.
        ``KeyError`` when the entity is unknown.
        """
        members, cache_key = self._members(scope, entity_id)
        profile = self.user_profile(entity_id) if scope == "user" else None
        buckets = []
        for bucket_start, bucket_end in split_periods(start, end, granularity):
            first_day, end_day = day_span(bucket_start, bucket_end)
            totals = self._v2.totals(first_day, end_day, members, cache_key)
            shown = profile if profile is not None and totals.base.active_users else None
            buckets.append(
                v2_bucket_json(
                    bucket_start,
                    bucket_end,
                    totals,
                    with_models=granularity == "all",
                    ides=None if shown is None else shown[0],
                    languages=None if shown is None else shown[1],
                )
            )
        return buckets

    def agent_usage_points(
        self,
        scope: Scope,
        entity_id: str,
        start: datetime,
        end: datetime,
        granularity: Granularity,
    ) -> list[dict[str, Any]]:
        """The exact wire JSON data points of ``GET /api/v1/{scope}/agent-usage``.

        A point's totals equal the sums of its model breakdown and of its agent-type breakdown
        (costs to rounding). ``KeyError`` when the entity is unknown.
        """
        members, cache_key = self._members(scope, entity_id)
        points = []
        for point_start, point_end in split_periods(start, end, granularity):
            first_day, end_day = day_span(point_start, point_end)
            totals = self._v2.totals(first_day, end_day, members, cache_key)
            points.append(agent_point_json(point_start, point_end, totals))
        return points

    def user_profile(self, user_id: str) -> tuple[str, str]:
        """``(ides, languages)`` of a user as v2 user buckets show them (comma-separated)."""
        user = self.user(user_id)
        digest = hashlib.sha256(f"{self.seed}:{user.index}:profile".encode()).digest()
        ides = _IDES[digest[0] % len(_IDES)]
        first, second = digest[1] % len(_LANGUAGES), digest[2] % len(_LANGUAGES)
        languages = (
            _LANGUAGES[first] if first == second else f"{_LANGUAGES[first]},{_LANGUAGES[second]}"
        )
        return ides, languages

    # 6.2 roster details ---------------------------------------------------------------------

    def team_settings(self, team_id: str) -> tuple[str | None, int | None]:
        """``(syncedGroupId, seatCap)`` of a team; ``None`` where the team has none."""
        team = self.team(team_id)
        digest = hashlib.sha256(f"{self.seed}:{team.id}:settings".encode()).digest()
        synced = None if team.is_default or digest[0] % 3 else f"okta-{digest[1:7].hex()}"
        cap = None
        if not team.is_default and digest[8] % 4 == 0:
            cap = (len(team.member_ids) // 10 + 1 + digest[9] % 3) * 10
        return synced, cap

    def team_json(self, team_id: str, *, version: str = "6.2") -> dict[str, Any]:
        """A team as the 6.2 ``Team`` schema writes it (``version="5.x"``: the older fields)."""
        team = self.team(team_id)
        body: dict[str, Any] = {
            "id": team.id,
            "name": team.name,
            "usersCount": len(team.member_ids),
            "isDefaultTeam": team.is_default,
        }
        if version == "5.x":
            return body
        synced, cap = self.team_settings(team_id)
        body["organizationId"] = self.organization.id
        body["syncedGroupId"] = synced
        if cap is not None:
            body["seatCap"] = cap
        body["pendingInvitationsCount"] = self.team_utilization(team_id)["invited"]
        return body

    def user_by_email(self, email: str) -> User:
        """The user with ``email`` (case-insensitive); ``KeyError`` when unknown."""
        return self._users_by_email[email.casefold()]

    def audit_events(self) -> list[dict[str, Any]]:
        """Every audit event before ``now``, oldest first, as ``AuditLogEvent`` JSON.

        They agree with the roster: see :mod:`tabnine_usage_async.testing.roster`.
        """
        if self._events is None:
            self._events = audit_events(self)
        return self._events

    def invitations(self, team_id: str | None = None) -> list[dict[str, Any]]:
        """Pending invitations (``Invitation`` JSON), of one team or all, in paging order."""
        # Derived once per roster change: the invitation listing asks for them on every page.
        found = self._invitations.get(team_id)
        if found is None:
            found = self._invitations[team_id] = tuple(invitations(self, team_id))
        return list(found)

    def user_day_metrics(self, user_id: str, day: date) -> UserDayMetrics:
        """One user's raw numbers on ``day`` (the building block of every usage number)."""
        user = self._users_by_id[user_id]
        active, code, chat, agent, counts = self._engine.day_masks(day.toordinal(), 1 << user.index)
        return UserDayMetrics(user_id, day, active != 0, code != 0, chat != 0, agent != 0, *counts)
