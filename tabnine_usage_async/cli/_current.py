"""The read subcommands of Tabnine 6.2's API: v2 ``usage`` rows, ``agent-usage``, ``audit-log``
and ``invitations``. Rows are flat: one per period (or per period and model / agent type)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from .._wire import parse_granularity
from ..client import TabnineClient
from ..models import AgentUsageReport, AuditEvent, Invitation, UsageReportV2
from ..windows import format_datetime, resolve_range
from ._config import connect
from ._errors import EXIT_OK, UsageError
from ._output import Table, emit, fields, model_row, plain

__all__ = [
    "AGENT_BREAKDOWNS",
    "AGENT_COLUMNS",
    "AUDIT_COLUMNS",
    "USAGE_V2_COLUMNS",
    "agent_rows",
    "audit_row",
    "cmd_agent_usage",
    "cmd_audit_log",
    "cmd_invitations",
    "usage_v2_rows",
]

_REPORT_COLUMNS = (
    "scope",
    "organization_id",
    "team_id",
    "user_id",
    "granularity",
    "period_start",
    "period_end",
)

USAGE_V2_COLUMNS = (
    *_REPORT_COLUMNS,
    "active_users",
    "completions_active_users",
    "completions",
    "chars_completed",
    "keystrokes",
    "completion_lines",
    "chat_active_users",
    "chat_messages",
    "chat_lines_added",
    "agent_active_users",
    "agent_messages",
    "agent_lines_added",
    "agent_lines_added_accepted",
    "agent_lines_removed",
    "agent_lines_removed_accepted",
    "ides",
    "languages",
    "chat_models",
    "agent_models",
)

AGENT_BREAKDOWNS = ("point", "model", "agent-type")

_MODEL_COLUMNS = ("model", "tokens", "input_tokens", "output_tokens", "cost")
_AGENT_TYPE_COLUMNS = (
    "agent_type",
    "active_users",
    "interactions",
    "lines_added",
    "lines_added_accepted",
    "lines_removed",
    "lines_removed_accepted",
    "tokens",
    "input_tokens",
    "output_tokens",
    "cost",
    "user_initiated_messages",
)
#: Columns of ``agent-usage`` rows for each ``--by``.
AGENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "point": (
        *_REPORT_COLUMNS,
        "active_users",
        "total_tokens",
        "total_input_tokens",
        "total_output_tokens",
        "total_cost",
    ),
    "model": (*_REPORT_COLUMNS, *_MODEL_COLUMNS),
    "agent-type": (*_REPORT_COLUMNS, *_AGENT_TYPE_COLUMNS),
}

AUDIT_COLUMNS = (
    "id",
    "timestamp",
    "event_type",
    "actor_type",
    "actor_id",
    "actor_email",
    "actor_name",
    "resource_type",
    "resource_id",
    "resource_name",
    "metadata",
    "ip_address",
)


def _report_cells(report: UsageReportV2 | AgentUsageReport, scope: str) -> dict[str, Any]:
    return {
        "scope": scope,
        "organization_id": report.organization_id,
        "team_id": report.team_id,
        "user_id": report.user_id,
        "granularity": report.granularity.value,
    }


def usage_v2_rows(report: UsageReportV2, scope: str) -> list[dict[str, Any]]:
    """One flat row per bucket of a v2 report; absent metrics are ``None``, never 0."""
    head = _report_cells(report, scope)
    rows = []
    for bucket in report.buckets:
        code, chat, agent = bucket.code_completions, bucket.chat, bucket.agent
        rows.append(
            {
                **head,
                "period_start": format_datetime(bucket.start),
                "period_end": format_datetime(bucket.end),
                "active_users": bucket.active_users,
                "completions_active_users": code and code.active_users,
                "completions": code and code.completions,
                "chars_completed": code and code.chars_completed,
                "keystrokes": code and code.keystrokes,
                "completion_lines": code and code.lines,
                "chat_active_users": chat and chat.active_users,
                "chat_messages": chat and chat.messages,
                "chat_lines_added": chat and chat.lines_added,
                "agent_active_users": agent and agent.active_users,
                "agent_messages": agent and agent.messages,
                "agent_lines_added": agent and agent.lines_added,
                "agent_lines_added_accepted": agent and agent.lines_added_accepted,
                "agent_lines_removed": agent and agent.lines_removed,
                "agent_lines_removed_accepted": agent and agent.lines_removed_accepted,
                "ides": bucket.ides,
                "languages": bucket.languages,
                "chat_models": None if chat is None else plain(chat.models),
                "agent_models": None if agent is None else plain(agent.models),
            }
        )
    return rows


def agent_rows(report: AgentUsageReport, scope: str, by: str) -> list[dict[str, Any]]:
    """Rows of an agent-usage report: per point, per point and model, or per agent type."""
    head = _report_cells(report, scope)
    rows = []
    for point in report.points:
        period = {
            **head,
            "period_start": format_datetime(point.start),
            "period_end": format_datetime(point.end),
        }
        if by == "point":
            rows.append(
                {
                    **period,
                    "active_users": point.active_users,
                    "total_tokens": point.total_tokens,
                    "total_input_tokens": point.total_input_tokens,
                    "total_output_tokens": point.total_output_tokens,
                    "total_cost": point.total_cost,
                }
            )
        elif by == "model":
            rows.extend({**period, **model_row(m, _MODEL_COLUMNS)} for m in point.models)
        else:
            rows.extend({**period, **model_row(t, _AGENT_TYPE_COLUMNS)} for t in point.agent_types)
    return rows


def audit_row(event: AuditEvent) -> dict[str, Any]:
    """One audit event as a flat row (``metadata`` stays an object)."""
    actor, resource, request = event.actor, event.resource, event.request
    return {
        "id": event.id,
        "timestamp": format_datetime(event.timestamp),
        "event_type": event.event_type,
        "actor_type": actor and actor.type,
        "actor_id": actor and actor.id,
        "actor_email": actor and actor.email,
        "actor_name": actor and actor.display_name,
        "resource_type": resource and resource.type,
        "resource_id": resource and resource.id,
        "resource_name": resource and resource.name,
        "metadata": plain(event.metadata),
        "ip_address": request and request.ip_address,
    }


def _target(args: argparse.Namespace) -> tuple[str, Sequence[str]]:
    """The scope and the id arguments of the method, from ``--team`` / ``--user``."""
    if args.team is not None:
        return "team", (args.team,)
    if args.user is not None:
        return "user", (args.user,)
    return "organization", ()


async def usage_v2_table(
    client: TabnineClient, args: argparse.Namespace, start: Any, end: Any, granularity: Any
) -> Table:
    """``usage`` read from the v2 endpoints."""
    scope, ids = _target(args)
    method = {
        "organization": client.get_organization_usage_v2,
        "team": client.get_team_usage_v2,
        "user": client.get_user_usage_v2,
    }[scope]
    report: UsageReportV2 = await method(*ids, start, end, granularity)  # type: ignore[operator]
    return Table(USAGE_V2_COLUMNS, usage_v2_rows(report, scope))


async def cmd_agent_usage(args: argparse.Namespace, run: object) -> int:
    """``agent-usage``: tokens and cost of the agent, per period, model or agent type."""
    start, end = resolve_range(args.start, args.end)
    granularity = parse_granularity(args.granularity)
    scope, ids = _target(args)
    async with connect(args) as client:
        method = {
            "organization": client.get_organization_agent_usage,
            "team": client.get_team_agent_usage,
            "user": client.get_user_agent_usage,
        }[scope]
        report: AgentUsageReport = await method(*ids, start, end, granularity)  # type: ignore[operator]
    emit(Table(AGENT_COLUMNS[args.by], agent_rows(report, scope, args.by)), args.format)
    return EXIT_OK


def _audit_filters(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "event_type": args.event_type,
        "actor_id": args.actor_id,
        "actor_email": args.actor_email,
        "resource_type": args.resource_type,
        "resource_id": args.resource_id,
        "sort": args.sort,
    }


async def cmd_audit_log(args: argparse.Namespace, run: object) -> int:
    """``audit-log``: the organization's audit events; CSV is the server's export, streamed."""
    filters = _audit_filters(args)
    if args.output is not None and args.format != "csv":
        raise UsageError("--output writes the server's CSV export: use it with --format csv")
    async with connect(args) as client:
        if args.format == "csv":
            if args.output is not None:
                await client.export_audit_logs_csv(args.output, args.since, args.until, **filters)
            else:
                sys.stdout.flush()
                await client.export_audit_logs_csv(
                    sys.stdout.buffer, args.since, args.until, **filters
                )
                sys.stdout.buffer.flush()
            return EXIT_OK
        events = client.iter_audit_logs(args.since, args.until, **filters)
        rows = [audit_row(event) async for event in events]
    emit(Table(AUDIT_COLUMNS, rows), args.format)
    return EXIT_OK


async def cmd_invitations(args: argparse.Namespace, run: object) -> int:
    """``invitations``: pending invitations of the organization or of one team."""
    columns = fields(Invitation)
    async with connect(args) as client:
        rows = [model_row(i, columns) async for i in client.iter_invitations(args.team)]
    emit(Table(columns, rows), args.format)
    return EXIT_OK
