"""One roster entry per user, kept small: a roster of 100,000 users lives through a whole walk.

A listed ``User`` model with its own role string, team tuple and ``extra`` dictionary costs
about a kilobyte. ``Member`` keeps the same fields in slots, shares the values many users
repeat (roles, team lists) through ``Interner``, and keeps the fields this SDK does not know as
their JSON text; ``Member.user`` rebuilds the model on access.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import attrs

from .models import Team, User

__all__ = ["Interner", "Member", "from_listing", "set_teams"]

H = TypeVar("H", bound=Hashable)

_NO_EXTRA: Mapping[str, Any] = {}


class Interner:
    """Hands out one shared object per distinct value (roles, team-id tuples) of a listing."""

    def __init__(self) -> None:
        self._seen: dict[Any, Any] = {}

    def __call__(self, value: H) -> H:
        """``value``, or the equal value handed out before."""
        shared: H = self._seen.setdefault(value, value)
        return shared


class Member:
    """A user of the organization with every team the user is in (see ``list_members``).

    Immutable. ``user`` is rebuilt from compact storage on each access (about a microsecond):
    in a loop, read it once per member. ``id`` and ``email`` are read without building it.

    Attributes:
        user: the user as its first listing returned it.
        team_ids: the user's teams in listing order; empty for a user in no team.
        id: the user's id (``user.id``).
        email: the user's email (``user.email``).
    """

    __slots__ = (
        "_deactivated_at",
        "_email",
        "_extra",
        "_id",
        "_role",
        "_team",
        "_team_ids",
        "_updated_at",
        "_username",
        "_verified",
    )

    _id: str
    _username: str
    _email: str
    _role: str
    _verified: bool
    _team: Team | None
    _deactivated_at: datetime | None
    _updated_at: datetime | None
    # The unknown fields: a mapping as given, or the JSON text of one that came from JSON.
    _extra: Mapping[str, Any] | str
    _team_ids: tuple[str, ...]

    def __init__(self, user: User, team_ids: Iterable[str] = ()) -> None:
        self._store(user, tuple(team_ids), user.role, user.extra)

    def _store(
        self,
        user: User,
        team_ids: tuple[str, ...],
        role: str,
        extra: Mapping[str, Any] | str,
    ) -> None:
        put = object.__setattr__
        put(self, "_id", user.id)
        put(self, "_username", user.username)
        put(self, "_email", user.email)
        put(self, "_role", role)
        put(self, "_verified", user.verified)
        put(self, "_team", user.team)
        put(self, "_deactivated_at", user.deactivated_at)
        put(self, "_updated_at", user.updated_at)
        put(self, "_extra", extra)
        put(self, "_team_ids", team_ids)

    @property
    def user(self) -> User:
        """The user as its first listing returned it."""
        extra = self._extra
        return User(
            self._id,
            self._username,
            self._email,
            self._role,
            self._verified,
            self._team,
            self._deactivated_at,
            self._updated_at,
            extra=json.loads(extra) if isinstance(extra, str) else extra,
        )

    @property
    def team_ids(self) -> tuple[str, ...]:
        """The user's teams in listing order; empty for a user in no team."""
        return self._team_ids

    @property
    def id(self) -> str:
        """The user's id."""
        return self._id

    @property
    def email(self) -> str:
        """The user's email."""
        return self._email

    def __setattr__(self, name: str, value: object) -> None:
        raise attrs.exceptions.FrozenInstanceError

    def __delattr__(self, name: str) -> None:
        raise attrs.exceptions.FrozenInstanceError

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Member):
            return NotImplemented
        return self._team_ids == other._team_ids and self.user == other.user

    def __hash__(self) -> int:
        return hash((self._id, self._email, self._team_ids))

    def __repr__(self) -> str:
        return f"Member(user={self.user!r}, team_ids={self._team_ids!r})"

    def __reduce__(self) -> tuple[type[Member], tuple[User, tuple[str, ...]]]:
        return (Member, (self.user, self._team_ids))


def from_listing(user: User, intern: Interner) -> Member:
    """A member in no team yet, for a user decoded from a listing (so its ``extra`` is JSON)."""
    member = Member.__new__(Member)
    extra: Mapping[str, Any] | str = _NO_EXTRA
    if user.extra:
        # Decoded JSON encodes back to the same values, and the text is a third of the dict.
        extra = json.dumps(user.extra, ensure_ascii=False, separators=(",", ":"))
    member._store(user, (), intern(user.role), extra)
    return member


def set_teams(member: Member, team_ids: tuple[str, ...]) -> None:
    """Set a member's teams while its roster is merged, before anyone else sees it."""
    object.__setattr__(member, "_team_ids", team_ids)
