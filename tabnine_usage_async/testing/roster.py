"""Audit events and pending invitations derived from a dataset's roster.

Both are pure functions of the roster, so they agree with everything else the fake serves:

- every team has a ``team.created`` event (actor ``system``) a minute per position after the
  organization's creation;
- every user but the owner has a ``user.invited`` event at ``createdAt`` by the owner (the owner
  has ``user.created`` by ``system``); a verified user has ``user.registered`` five minutes
  later, by the user;
- every team membership has a ``team_member.added`` event (resource: the team) one second per
  membership after ``createdAt``;
- every Admin or Manager has a ``role.assigned`` event two minutes after ``createdAt`` (resource:
  the user, ``metadata.role``);
- every deactivated user has a ``user.deactivated`` event at exactly ``deactivatedAt``.

Events at or after the dataset's clock (``now``) are not there yet. Pending invitations are one
per team membership of an active user who never accepted (``verified: false``), which is what
team utilization counts as ``invited`` and teams as ``pendingInvitationsCount``; an unverified
user in no team has no listed invitation (every invitation names a team). Invitations never
expire (``expiresAt: null``).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ._timefmt import format_timestamp

if TYPE_CHECKING:
    from .dataset import Dataset, User

__all__ = ["audit_events", "invitations"]

_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) TabnineConsole/6.2"


def _id(seed: int, *parts: object) -> str:
    digest = hashlib.sha256(":".join(map(str, (seed, *parts))).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _actor(user: User | None) -> dict[str, Any]:
    if user is None:
        return {"id": "system", "type": "system", "email": None, "displayName": "System"}
    return {"id": user.id, "type": "user", "email": user.email, "displayName": user.username}


def _request(seed: int, event_id: str, actor: User | None) -> dict[str, Any]:
    if actor is None:
        return {"ipAddress": "127.0.0.1", "userAgent": "tabnine-scim/6.2", "clientId": None}
    octet = int(event_id[:2], 16)
    return {
        "ipAddress": f"10.{actor.index % 250}.{octet}.{seed % 250 + 1}",
        "userAgent": _USER_AGENT,
        "clientId": None,
        "requestId": _id(seed, "request", event_id),
    }


def audit_events(data: Dataset) -> list[dict[str, Any]]:
    """Every audit event of ``data`` before ``data.now``, oldest first."""
    seed = data.seed
    owner = data.users[0] if data.users else None
    raw: list[tuple[datetime, str, User | None, dict[str, Any], dict[str, Any]]] = []

    def add(
        at: datetime,
        event_type: str,
        actor: User | None,
        resource: dict[str, Any],
        metadata: dict[str, Any],
    ) -> None:
        raw.append((at, event_type, actor, resource, metadata))

    created = data.organization.created_at
    for position, team in enumerate(data.teams):
        add(
            created + timedelta(minutes=position + 1),
            "team.created",
            None,
            {"id": team.id, "type": "team", "name": team.name},
            {},
        )
    for user in data.users:
        subject = {"id": user.id, "type": "user", "name": user.email}
        if user is owner:
            add(user.created_at, "user.created", None, subject, {"role": user.role})
        else:
            add(user.created_at, "user.invited", owner, subject, {"role": user.role})
        if user.verified:
            add(user.created_at + timedelta(minutes=5), "user.registered", user, subject, {})
        for k, team_id in enumerate(user.team_ids):
            team = data.team(team_id)
            add(
                user.created_at + timedelta(seconds=k + 1),
                "team_member.added",
                owner,
                {"id": team.id, "type": "team", "name": team.name},
                {"userId": user.id, "email": user.email},
            )
        if user.role in ("Admin", "Manager"):
            add(
                user.created_at + timedelta(minutes=2),
                "role.assigned",
                owner,
                subject,
                {"role": user.role},
            )
        if user.deactivated_at is not None:
            add(user.deactivated_at, "user.deactivated", owner, subject, {})
    now = data.now
    events = []
    for at, event_type, actor, resource, metadata in raw:
        if at >= now:
            continue
        event_id = _id(seed, "event", event_type, resource["id"], format_timestamp(at))
        events.append(
            (
                at,
                event_id,
                {
                    "id": event_id,
                    "timestamp": format_timestamp(at),
                    "eventType": event_type,
                    "actor": _actor(actor),
                    "resource": resource,
                    "metadata": metadata,
                    "request": _request(seed, event_id, actor),
                },
            )
        )
    events.sort(key=lambda item: (item[0], item[1]))
    return [event for _, _, event in events]


def invitations(data: Dataset, team_id: str | None = None) -> list[dict[str, Any]]:
    """Pending invitations of ``data`` (of one team when ``team_id``), in paging order."""
    rows = []
    for user in data.users:
        if user.verified or not user.active:
            continue
        for tid in user.team_ids:
            if team_id is not None and tid != team_id:
                continue
            rows.append(
                {
                    "id": _id(data.seed, "invitation", user.id, tid),
                    "email": user.email,
                    "teamId": tid,
                    "role": user.role,
                    "createdAt": format_timestamp(user.created_at),
                    "expiresAt": None,
                    "revokedAt": None,
                }
            )
    return rows
