"""The read subcommands: ``org``, ``teams``, ``users``, ``usage``, ``license``, ``utilization``
and ``admins`` (the 6.2-only reads are in ``_current``). Each prints its result on stdout in the
chosen ``--format``."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from .._wire import parse_granularity
from ..client import TabnineClient
from ..listing import list_members
from ..models import License, Organization, PermissionUser, Team, TeamUtilization, User
from ..records import RECORD_FIELDS, records_from_report
from ..windows import resolve_range
from ._config import connect
from ._errors import EXIT_OK, UsageError
from ._output import Table, emit, fields, model_row
from ._run import Run

__all__ = [
    "cmd_admins",
    "cmd_license",
    "cmd_org",
    "cmd_teams",
    "cmd_usage",
    "cmd_users",
    "cmd_utilization",
]


async def cmd_org(args: argparse.Namespace, run: Run) -> int:
    """``org``: the organization."""
    return await _show_one(args, Organization, lambda client: client.get_organization())


async def cmd_teams(args: argparse.Namespace, run: Run) -> int:
    """``teams``: every team."""
    columns = fields(Team)
    async with connect(args) as client:
        rows = [model_row(team, columns) async for team in client.iter_teams()]
    emit(Table(columns, rows), args.format)
    return EXIT_OK


async def cmd_users(args: argparse.Namespace, run: Run) -> int:
    """``users``: everyone, one team's members, or the users in no team."""
    if args.deactivated and not args.unassigned:
        raise UsageError("--deactivated lists unassigned users: use it with --unassigned")
    columns = fields(User)
    async with connect(args) as client:
        if args.team is not None:
            rows = [model_row(u, columns) async for u in client.iter_team_users(args.team)]
        elif args.unassigned:
            listing = client.iter_unassigned_users(active=not args.deactivated)
            rows = [model_row(u, columns) async for u in listing]
        else:
            rows = await _all_users(client, columns)
            columns = (*columns, "team_ids")
    emit(Table(columns, rows), args.format)
    return EXIT_OK


async def _all_users(client: TabnineClient, columns: Sequence[str]) -> list[dict[str, Any]]:
    """Every user once, with every team the user is in (team listings in team order)."""
    roster = await list_members(client)
    return [
        {**model_row(member.user, columns), "team_ids": list(member.team_ids)}
        for member in roster.members
    ]


async def cmd_usage(args: argparse.Namespace, run: Run) -> int:
    """``usage``: one row per period for the organization, a team or a user.

    ``--api auto`` (the default) reads v2 when the server has it (Tabnine 6.2 and later, whose
    v1 answers are frozen at the upgrade) and v1 otherwise; ``--api v1`` / ``v2`` choose.
    """
    from ._current import usage_v2_table

    start, end = resolve_range(args.start, args.end)
    granularity = parse_granularity(args.granularity)
    async with connect(args) as client:
        api = args.api
        if api == "auto":
            api = "v2" if await client.supports_v2_usage() else "v1"
        if api == "v2":
            table = await usage_v2_table(client, args, start, end, granularity)
        else:
            table = await _usage_v1_table(client, args, start, end, granularity)
    emit(table, args.format)
    return EXIT_OK


async def _usage_v1_table(
    client: TabnineClient, args: argparse.Namespace, start: Any, end: Any, granularity: Any
) -> Table:
    if args.team is not None:
        report = await client.get_team_usage(args.team, start, end, granularity)
        records = records_from_report(
            report, scope="team", organization_id=report.organization_id, team_id=args.team
        )
    elif args.user is not None:
        report = await client.get_user_usage(args.user, start, end, granularity)
        records = records_from_report(
            report, scope="user", organization_id=report.organization_id, user_id=args.user
        )
    else:
        report = await client.get_organization_usage(start, end, granularity)
        records = records_from_report(
            report, scope="organization", organization_id=report.organization_id
        )
    return Table(RECORD_FIELDS, [r.to_row() for r in records])


async def cmd_license(args: argparse.Namespace, run: Run) -> int:
    """``license``: the installation's license, its timestamps also as date-times."""
    async with connect(args) as client:
        found = await client.get_license()
    columns = ("expires_at", "issued_at", *fields(License))
    emit(Table(columns, [model_row(found, columns)], single=True), args.format)
    return EXIT_OK


async def cmd_utilization(args: argparse.Namespace, run: Run) -> int:
    """``utilization``: seat counts per month, or one team's current seats."""
    if args.team is not None and args.since is not None:
        raise UsageError("--since applies to the organization's months, not to --team")
    async with connect(args) as client:
        if args.team is not None:
            seats = await client.get_team_utilization(args.team)
            columns: tuple[str, ...] = ("team_id", *fields(TeamUtilization))
            row = {"team_id": args.team, **model_row(seats, fields(TeamUtilization))}
            table = Table(columns, [row], single=True)
        else:
            months = await client.get_account_utilizations(args.since)
            # ``month`` is the calendar month (1 = January), never the API's zero-based number.
            columns = ("year", "month", "registered", "deactivated", "active", "pending")
            table = Table(columns, [model_row(m, columns) for m in months])
    emit(table, args.format)
    return EXIT_OK


async def _show_one(
    args: argparse.Namespace, model: type, fetch: Callable[[TabnineClient], Awaitable[Any]]
) -> int:
    """Fetch one object and print its fields, one per line (or as one JSON object)."""
    async with connect(args) as client:
        found = await fetch(client)
    columns = fields(model)
    emit(Table(columns, [model_row(found, columns)], single=True), args.format)
    return EXIT_OK


async def cmd_admins(args: argparse.Namespace, run: Run) -> int:
    """``admins``: users with the Admin role."""
    columns = fields(PermissionUser)
    async with connect(args) as client:
        admins = await client.get_permissions("Admin")
    emit(Table(columns, [model_row(a, columns) for a in admins]), args.format)
    return EXIT_OK
