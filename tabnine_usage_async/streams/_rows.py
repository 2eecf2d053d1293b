"""Answers -> rows: one small pure function per stream, tested from tables of answers.

Every builder takes an answer of its stream's source and a ``RowContext`` and returns plain values
keyed by column name. Ids come from the request (the context), never from the answer, so a row is
always attributed to the entity that was asked about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from .._units import Entity
from ._base import RowContext
from ._tables import ALL_ROWS

__all__ = [
    "agent_usage_breakdown_rows",
    "agent_usage_rows",
    "audit_log_rows",
    "invitations_rows",
    "model_usage_rows",
    "seats_rows",
    "teams_rows",
    "usage_rows",
    "usage_v1_rows",
    "users_rows",
]


def _entity_columns(ctx: RowContext) -> dict[str, Any]:
    entity: Entity | None = ctx.entity
    if entity is None:  # pragma: no cover - entity streams always have one
        raise ValueError("an entity stream's row needs an entity")
    return {
        "scope": entity.scope,
        "entity_id": entity.id,
        "organization_id": ctx.organization_id,
        "team_id": entity.id if entity.scope == "team" else None,
        "team_ids": list(entity.team_ids) if entity.scope == "user" else [],
        "user_id": entity.id if entity.scope == "user" else None,
        "user_email": entity.email if entity.scope == "user" else None,
    }


def _period(granularity: str, start: datetime, end: datetime) -> dict[str, Any]:
    return {"granularity": granularity, "period_start": start, "period_end": end}


def _stamp(ctx: RowContext, end: datetime | None) -> dict[str, Any]:
    stamp: dict[str, Any] = {"fetched_at": ctx.fetched_at}
    if end is not None:
        stamp["complete"] = end <= ctx.fetched_at
    return stamp


def _extra(*parts: Mapping[str, Any] | None) -> dict[str, Any] | None:
    merged: dict[str, Any] = {}
    for part in parts:
        if part:
            merged.update(part)
    return merged or None


def _get(obj: Any, name: str) -> Any:
    return None if obj is None else getattr(obj, name)


def usage_rows(report: Any, ctx: RowContext) -> list[dict[str, Any]]:
    """A v2 usage report -> one ``usage`` row per bucket."""
    granularity = report.granularity.value
    rows = []
    for b in report.buckets:
        code, chat, agent = b.code_completions, b.chat, b.agent
        rows.append(
            {
                **_entity_columns(ctx),
                **_period(granularity, b.start, b.end),
                "active_users": b.active_users,
                "code_completions_active_users": _get(code, "active_users"),
                "code_completions": _get(code, "completions"),
                "code_completions_chars": _get(code, "chars_completed"),
                "code_completions_keystrokes": _get(code, "keystrokes"),
                "code_completions_lines": _get(code, "lines"),
                "chat_active_users": _get(chat, "active_users"),
                "chat_messages": _get(chat, "messages"),
                "chat_lines_added": _get(chat, "lines_added"),
                "agent_active_users": _get(agent, "active_users"),
                "agent_messages": _get(agent, "messages"),
                "agent_lines_added": _get(agent, "lines_added"),
                "agent_lines_added_accepted": _get(agent, "lines_added_accepted"),
                "agent_lines_removed": _get(agent, "lines_removed"),
                "agent_lines_removed_accepted": _get(agent, "lines_removed_accepted"),
                "ides": b.ides,
                "languages": b.languages,
                "extra": _extra(b.extra),
                **_stamp(ctx, b.end),
            }
        )
    return rows


def model_usage_rows(report: Any, ctx: RowContext) -> list[dict[str, Any]]:
    """A v2 usage report at ``granularity=all`` -> one ``model_usage`` row per section and model."""
    granularity = report.granularity.value
    rows = []
    for b in report.buckets:
        for section, part in (("chat", b.chat), ("agent", b.agent)):
            for m in _get(part, "models") or ():
                rows.append(
                    {
                        **_entity_columns(ctx),
                        **_period(granularity, b.start, b.end),
                        "section": section,
                        "model": m.model or "",
                        "messages": m.messages,
                        "unique_users": m.unique_users,
                        "input_tokens": m.input_tokens,
                        "output_tokens": m.output_tokens,
                        "extra": _extra(m.extra),
                        **_stamp(ctx, b.end),
                    }
                )
    return rows


def agent_usage_rows(report: Any, ctx: RowContext) -> list[dict[str, Any]]:
    """An agent-usage report -> one ``agent_usage`` row per data point."""
    granularity = report.granularity.value
    return [
        {
            **_entity_columns(ctx),
            **_period(granularity, p.start, p.end),
            "active_users": p.active_users,
            "total_tokens": p.total_tokens,
            "total_input_tokens": p.total_input_tokens,
            "total_output_tokens": p.total_output_tokens,
            "total_cost": p.total_cost,
            "extra": _extra(p.extra),
            **_stamp(ctx, p.end),
        }
        for p in report.points
    ]


_TYPE_ONLY = (
    "active_users",
    "interactions",
    "user_initiated_messages",
    "lines_added",
    "lines_added_accepted",
    "lines_removed",
    "lines_removed_accepted",
)


def _model_values(m: Any) -> dict[str, Any]:
    return {
        "tokens": m.tokens,
        "input_tokens": m.input_tokens,
        "output_tokens": m.output_tokens,
        "cost": m.cost,
        "extra": _extra(m.extra),
    }


def agent_usage_breakdown_rows(report: Any, ctx: RowContext) -> list[dict[str, Any]]:
    """An agent-usage report -> per data point: each agent type's total, each (type, model), and
    each model's total over every type (``'*'`` stands for "all")."""
    granularity = report.granularity.value
    rows: list[dict[str, Any]] = []
    no_type_values = dict.fromkeys(_TYPE_ONLY)
    for p in report.points:
        head = {**_entity_columns(ctx), **_period(granularity, p.start, p.end)}
        stamp = _stamp(ctx, p.end)
        for t in p.agent_types:
            type_values = {name: getattr(t, name) for name in _TYPE_ONLY}
            rows.append(
                {
                    **head,
                    "agent_type": t.agent_type,
                    "model": ALL_ROWS,
                    **type_values,
                    **_model_values(t),
                    **stamp,
                }
            )
            for m in t.models:
                rows.append(
                    {
                        **head,
                        "agent_type": t.agent_type,
                        "model": m.model,
                        **no_type_values,
                        **_model_values(m),
                        **stamp,
                    }
                )
        for m in p.models:
            rows.append(
                {
                    **head,
                    "agent_type": ALL_ROWS,
                    "model": m.model,
                    **no_type_values,
                    **_model_values(m),
                    **stamp,
                }
            )
    return rows


def usage_v1_rows(report: Any, ctx: RowContext) -> list[dict[str, Any]]:
    """A v1 usage report -> one ``usage_v1`` row per block (the columns of ``UsageRecord``)."""
    granularity = report.granularity.value
    rows = []
    for b in report.blocks:
        code, chat = b.code_completions, b.chat
        rows.append(
            {
                **_entity_columns(ctx),
                **_period(granularity, b.start, b.end),
                "active_users": b.active_users,
                "productivity_factor": b.productivity_factor,
                "code_completions_active_users": _get(code, "active_users"),
                "code_completions": _get(code, "completions"),
                "code_completions_chars": _get(code, "chars_completed"),
                "code_completions_keystrokes": _get(code, "keystrokes"),
                "code_completions_lines": _get(code, "lines"),
                "automation_factor": _get(code, "automation_factor"),
                "chat_active_users": _get(chat, "active_users"),
                "chat_interactions": _get(chat, "interactions"),
                "chat_useful_interactions": _get(chat, "useful_interactions"),
                "chat_lines": _get(chat, "lines"),
                "chat_chars": _get(chat, "chars_completed"),
                "chat_consumption_rate": _get(chat, "consumption_rate"),
                "extra": _extra(b.extra),
                **_stamp(ctx, b.end),
            }
        )
    return rows


def users_rows(members: Iterable[Any], ctx: RowContext) -> list[dict[str, Any]]:
    """The roster's members (``listing.Member``) -> one ``users`` row per user."""
    return [_user_row(m.user, m.team_ids, ctx) for m in members]


def _user_row(user: Any, team_ids: tuple[str, ...], ctx: RowContext) -> dict[str, Any]:
    # ``Member.user`` is built on each access, so a row reads it once.
    return {
        "user_id": user.id,
        "email": user.email,
        "username": user.username,
        "role": user.role,
        "verified": user.verified,
        "team_ids": list(team_ids),
        "deactivated_at": user.deactivated_at,
        "updated_at": user.updated_at,
        "extra": _extra(user.extra),
        **_stamp(ctx, None),
    }


def teams_rows(teams: Iterable[Any], ctx: RowContext) -> list[dict[str, Any]]:
    """Listed teams -> one ``teams`` row per team."""
    return [
        {
            "team_id": t.id,
            "name": t.name,
            "users_count": t.users_count,
            "is_default_team": t.is_default_team,
            "seat_cap": getattr(t, "seat_cap", None),
            "pending_invitations_count": getattr(t, "pending_invitations_count", None),
            "synced_group_id": getattr(t, "synced_group_id", None),
            "extra": _extra(t.extra),
            **_stamp(ctx, None),
        }
        for t in teams
    ]


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def seats_rows(months: Iterable[Any], ctx: RowContext) -> list[dict[str, Any]]:
    """Account utilization months -> one ``seats`` row per month; an unfinished month is
    provisional."""
    today = ctx.fetched_at.date()
    return [
        {
            "month": u.month_start,
            "year": u.month_start.year,
            "month_number": u.month_start.month,
            "registered": u.registered,
            "deactivated": u.deactivated,
            "active": u.active,
            "pending": u.pending,
            "provisional": _next_month(u.month_start) > today,
            "extra": _extra(u.extra),
            **_stamp(ctx, None),
        }
        for u in months
    ]


def invitations_rows(invitations: Iterable[Any], ctx: RowContext) -> list[dict[str, Any]]:
    """Pending invitations -> one ``invitations`` row each."""
    return [
        {
            "invitation_id": i.id,
            "email": i.email,
            "team_id": i.team_id,
            "role": i.role,
            "created_at": i.created_at,
            "expires_at": i.expires_at,
            "revoked_at": i.revoked_at,
            "extra": _extra(i.extra),
            **_stamp(ctx, None),
        }
        for i in invitations
    ]


def audit_log_rows(events: Iterable[Any], ctx: RowContext) -> list[dict[str, Any]]:
    """Audit events -> one ``audit_log`` row each; an event is complete once it happened."""
    rows = []
    for e in events:
        actor, resource, request = e.actor, e.resource, e.request
        rows.append(
            {
                "event_id": e.id,
                "timestamp": e.timestamp,
                "event_type": e.event_type,
                "actor_id": _get(actor, "id"),
                "actor_type": _get(actor, "type"),
                "actor_email": _get(actor, "email"),
                "actor_display_name": _get(actor, "display_name"),
                "resource_id": _get(resource, "id"),
                "resource_type": _get(resource, "type"),
                "resource_name": _get(resource, "name"),
                "metadata": dict(e.metadata) if e.metadata is not None else None,
                "ip_address": _get(request, "ip_address"),
                "user_agent": _get(request, "user_agent"),
                "client_id": _get(request, "client_id"),
                "request_id": _get(request, "request_id"),
                "extra": _extra(e.extra),
                **_stamp(ctx, e.timestamp),
            }
        )
    return rows
