"""The ``tabnine-usage`` command line: bulk backfills, everyday reads, and a fake server.

This module is the composition root of the command line: it is the only place that reads
environment variables for it, configures logging, or prints. Everything else in the package is a
library that returns values and raises ``TabnineError``s.

Streams: a read subcommand (``org``, ``teams``, ``users``, ``usage``, ``license``,
``utilization``, ``admins``) and ``backfill --dry-run`` write their result to stdout; progress,
the backfill summary, warnings and errors go to stderr, so stdout can be piped.

Exit codes: 0 done; 1 finished with failed units, or an API error; 2 bad usage or configuration
(one line on stderr, no traceback); 130 interrupted (Ctrl-C or SIGTERM; a backfill's checkpoint
stays intact and the same command resumes it).

Example::

    $ export TABNINE_API_TOKEN=...   # or --token-file PATH
    $ tabnine-usage backfill --start 2026-01-01 --end 2026-07-01 --output usage.parquet
    $ tabnine-usage teams --format csv
    $ tabnine-usage backfill --fake --start 2026-01-01 --end 2026-02-01 --output try.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import enum
import io
import json
import logging
import math
import os
import signal
import sys
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, NoReturn

import attrs

from ._version import __version__
from ._wire import parse_granularity
from .client import DEFAULT_BASE_URL, TabnineClient
from .errors import ConfigurationError, InvalidParameterError, TabnineError
from .models import Granularity
from .orchestrator import WalkProgress, parse_scopes, parse_window
from .records import RECORD_FIELDS, records_from_report
from .windows import Window, format_datetime, resolve_range, split_windows

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "build_parser",
    "main",
]

PROG = "tabnine-usage"
ENV_TOKEN = "TABNINE_API_TOKEN"
ENV_BASE_URL = "TABNINE_BASE_URL"

#: Everything done.
EXIT_OK = 0
#: Finished, but some units failed (they are listed), or the API answered with an error.
EXIT_FAILED = 1
#: Bad command line or configuration; nothing was fetched.
EXIT_USAGE = 2
#: Interrupted by Ctrl-C or SIGTERM (128 + SIGINT, the shell convention).
EXIT_INTERRUPTED = 130

READ_FORMATS = ("table", "json", "jsonl", "csv")

# The fake organization ``--fake`` serves unless told otherwise: big enough to look real, small
# enough that a six-month daily backfill of it takes seconds.
FAKE_USERS = 300
FAKE_TEAMS = 12
FAKE_SEED = 7

# Plain progress lines are for logs (stderr is not a terminal): one every few seconds is enough.
PLAIN_PROGRESS_INTERVAL = 5.0
RICH_REFRESH_INTERVAL = 0.25
# Listings run a few at a time in a dry run, as the backfill itself does.
DRY_RUN_LISTING_PARALLELISM = 4
# A summary listing thousands of failed units would drown the rest; the checkpoint keeps them all.
MAX_FAILURES_SHOWN = 50

logger = logging.getLogger("tabnine_usage_async")


class UsageError(Exception):
    """The command line itself is wrong (unknown option, bad value): exit 2."""


class _Parser(argparse.ArgumentParser):
    """An argparse parser that raises instead of printing usage and exiting.

    ``main`` turns the error into exactly one line on stderr, like every other usage error.
    """

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


# -- argument types ------------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value


# -- parser --------------------------------------------------------------------------------------


def _add_common_options(parser: argparse.ArgumentParser, *, top_level: bool) -> None:
    """Connection, logging and fake-server options, accepted before and after the subcommand.

    The subcommand copies of the options default to SUPPRESS, so that an option given before the
    subcommand is not overwritten by the subcommand parser's default.
    """

    def default(value: object) -> object:
        return value if top_level else argparse.SUPPRESS

    connection = parser.add_argument_group("connection")
    connection.add_argument(
        "--base-url",
        metavar="URL",
        default=default(None),
        help=f"console URL (default: ${ENV_BASE_URL}, else {DEFAULT_BASE_URL})",
    )
    connection.add_argument(
        "--token-file",
        metavar="PATH",
        type=Path,
        default=default(None),
        help=f"read the API token from this file (default: ${ENV_TOKEN})",
    )
    connection.add_argument(
        "--concurrency",
        metavar="N",
        type=_positive_int,
        default=default(16),
        help="requests in flight at once (default: 16)",
    )
    connection.add_argument(
        "--rate-limit",
        metavar="R",
        type=_positive_float,
        default=default(None),
        help="requests per second at most (default: unlimited)",
    )
    connection.add_argument(
        "--timeout",
        metavar="S",
        type=_positive_float,
        default=default(None),
        help="seconds one attempt may take (default: 30)",
    )
    connection.add_argument(
        "--max-retries",
        metavar="N",
        type=_non_negative_int,
        default=default(None),
        help="retries of a transient failure (default: 5)",
    )
    connection.add_argument(
        "--allow-insecure-http",
        action="store_true",
        default=default(False),
        help="allow plain http to a host that is not loopback (sends the token in clear text)",
    )
    logs = parser.add_argument_group("messages")
    logs.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=default(0),
        help="log progress details to stderr (-vv: debug)",
    )
    logs.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default(False),
        help="no progress and no summary; errors and failed units only",
    )
    logs.add_argument(
        "--debug",
        action="store_true",
        default=default(False),
        help="show tracebacks of errors",
    )
    fake = parser.add_argument_group("trying it out")
    fake.add_argument(
        "--fake",
        action="store_true",
        default=default(False),
        help="run against a built-in fake Tabnine API with a synthetic organization",
    )
    fake.add_argument(
        "--fake-users",
        metavar="N",
        type=_non_negative_int,
        default=default(FAKE_USERS),
        help=f"users of the fake organization (default: {FAKE_USERS})",
    )
    fake.add_argument(
        "--fake-teams",
        metavar="N",
        type=_non_negative_int,
        default=default(FAKE_TEAMS),
        help=f"teams of the fake organization (default: {FAKE_TEAMS})",
    )
    fake.add_argument(
        "--fake-seed",
        metavar="N",
        type=int,
        default=default(FAKE_SEED),
        help=f"same seed, same fake organization (default: {FAKE_SEED})",
    )


def _add_read_format(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=READ_FORMATS,
        default="table",
        help="output on stdout (default: table)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The full command-line parser (argparse errors raise ``UsageError``)."""
    from .sinks import FORMATS
    from .testing import add_fake_server_arguments

    parser = _Parser(
        prog=PROG,
        description="Fetch Tabnine usage metrics: bulk backfills into files, and quick reads.",
        epilog=f"The API token comes from ${ENV_TOKEN} or --token-file, never from an argument.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_common_options(parser, top_level=True)
    common = _Parser(add_help=False)
    _add_common_options(common, top_level=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    backfill = commands.add_parser(
        "backfill",
        parents=[common],
        help="fetch every usage record of a period into a file, resumably",
        description=(
            "Fetch the usage of the organization, every team and every user over [start, end) "
            "into one output file. Interrupted runs resume where they stopped when run again "
            "with the same arguments."
        ),
    )
    backfill.add_argument("--start", required=True, help="first day, YYYY-MM-DD or RFC 3339")
    backfill.add_argument("--end", required=True, help="end (exclusive), YYYY-MM-DD or RFC 3339")
    backfill.add_argument(
        "--granularity", default="daily", help="all, daily, weekly or monthly (default: daily)"
    )
    backfill.add_argument(
        "--window",
        default="month",
        help="period of one request: day, week, month or none (default: month)",
    )
    backfill.add_argument(
        "--scope",
        default="organization,team,user",
        help="comma-separated scopes to fetch (default: organization,team,user)",
    )
    backfill.add_argument(
        "--no-unassigned",
        dest="include_unassigned",
        action="store_false",
        help="leave out users who are in no team",
    )
    backfill.add_argument("--output", "-o", required=True, type=Path, help="the output file")
    backfill.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="output format (default: from the output's extension)",
    )
    backfill.add_argument(
        "--checkpoint",
        metavar="PATH",
        type=Path,
        default=None,
        help="progress file for resuming (default: <output>.checkpoint.sqlite)",
    )
    backfill.add_argument(
        "--dry-run",
        action="store_true",
        help="list the organization and show what would be fetched; fetch no usage",
    )
    backfill.set_defaults(handler=_cmd_backfill)

    org = commands.add_parser("org", parents=[common], help="the organization")
    _add_read_format(org)
    org.set_defaults(handler=_cmd_org)

    teams = commands.add_parser("teams", parents=[common], help="every team")
    _add_read_format(teams)
    teams.set_defaults(handler=_cmd_teams)

    users = commands.add_parser(
        "users",
        parents=[common],
        help="users: everyone, one team's, or those in no team",
        description="Without options: every user of the organization, with all of their teams.",
    )
    which = users.add_mutually_exclusive_group()
    which.add_argument("--team", metavar="ID", help="members of this team")
    which.add_argument("--unassigned", action="store_true", help="users in no team")
    users.add_argument(
        "--deactivated", action="store_true", help="with --unassigned: deactivated users"
    )
    _add_read_format(users)
    users.set_defaults(handler=_cmd_users)

    usage = commands.add_parser(
        "usage",
        parents=[common],
        help="usage of the organization, a team or a user, one row per period",
    )
    target = usage.add_mutually_exclusive_group(required=True)
    target.add_argument("--organization", action="store_true", help="the whole organization")
    target.add_argument("--team", metavar="ID", help="one team")
    target.add_argument("--user", metavar="ID", help="one user")
    usage.add_argument("--start", required=True, help="YYYY-MM-DD or RFC 3339")
    usage.add_argument("--end", required=True, help="end (exclusive), YYYY-MM-DD or RFC 3339")
    usage.add_argument(
        "--granularity", default="daily", help="all, daily, weekly or monthly (default: daily)"
    )
    _add_read_format(usage)
    usage.set_defaults(handler=_cmd_usage)

    license_ = commands.add_parser("license", parents=[common], help="the installation's license")
    _add_read_format(license_)
    license_.set_defaults(handler=_cmd_license)

    utilization = commands.add_parser(
        "utilization",
        parents=[common],
        help="seat counts per month (organization) or now (one team)",
    )
    utilization.add_argument("--team", metavar="ID", help="one team's current seat counts")
    utilization.add_argument(
        "--since", metavar="YYYY-MM", help="first month (default: the last 12 months)"
    )
    _add_read_format(utilization)
    utilization.set_defaults(handler=_cmd_utilization)

    admins = commands.add_parser("admins", parents=[common], help="users with the Admin role")
    _add_read_format(admins)
    admins.set_defaults(handler=_cmd_admins)

    fake_server = commands.add_parser(
        "fake-server",
        help="serve a fake Tabnine API on 127.0.0.1 until Ctrl-C",
        description="Serve a fake Tabnine Usage Metrics API with a synthetic organization.",
    )
    add_fake_server_arguments(fake_server)
    fake_server.set_defaults(handler=None)
    return parser


# -- messages ------------------------------------------------------------------------------------


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _error(message: object) -> None:
    print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr, flush=True)


def _note(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _configure_logging(verbosity: int, quiet: bool) -> Callable[[], None]:
    """Send the package's log to stderr at the chosen level; return a function that undoes it."""
    if verbosity >= 2:
        level = logging.DEBUG
    elif verbosity == 1:
        level = logging.INFO
    else:
        level = logging.ERROR if quiet else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    previous = (logger.level, logger.propagate)
    logger.setLevel(level)
    logger.addHandler(handler)
    # Our handler prints; passing records up as well would print them twice under a root handler.
    logger.propagate = False

    def restore() -> None:
        logger.removeHandler(handler)
        logger.setLevel(previous[0])
        logger.propagate = previous[1]

    return restore


# -- connection ----------------------------------------------------------------------------------


def _read_token(args: argparse.Namespace) -> str:
    """The token from ``--token-file``, else the environment. Never echoed in any message."""
    path: Path | None = args.token_file
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "unreadable"
            raise ConfigurationError(f"cannot read the token file {path}: {reason}") from None
        token = text.strip()
        if not token:
            raise ConfigurationError(f"the token file {path} is empty")
        return token
    token = os.environ.get(ENV_TOKEN, "").strip()
    if not token:
        raise ConfigurationError(
            f"no API token: set {ENV_TOKEN} or pass --token-file PATH "
            "(create a token in the Tabnine admin console under Settings > Access Tokens), "
            "or try the tool with --fake"
        )
    return token


def _client_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {
        "max_concurrency": args.concurrency,
        "allow_insecure_http": args.allow_insecure_http,
    }
    if args.rate_limit is not None:
        options["rate_limit"] = args.rate_limit
    if args.timeout is not None:
        options["timeout"] = args.timeout
    if args.max_retries is not None:
        options["max_retries"] = args.max_retries
    return options


@contextlib.asynccontextmanager
async def _connect(args: argparse.Namespace) -> AsyncIterator[TabnineClient]:
    """An open client for the command: the configured API, or a fake one for ``--fake``.

    The client is built (which validates every setting) before it is opened, and opening sends
    no request.
    """
    if not args.fake:
        base_url = args.base_url or os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL
        client = TabnineClient(token=_read_token(args), base_url=base_url, **_client_options(args))
        async with client:
            yield client
        return
    from .testing import serve_fake_tabnine

    async with serve_fake_tabnine(
        teams=args.fake_teams, users=args.fake_users, seed=args.fake_seed
    ) as fake:
        if not args.quiet:
            _note(
                f"using a fake Tabnine API at {fake.base_url} "
                f"({args.fake_users} users, {args.fake_teams} teams, seed {args.fake_seed})"
            )
        client = TabnineClient(token=fake.token, base_url=fake.base_url, **_client_options(args))
        async with client:
            yield client


# -- output of the read subcommands --------------------------------------------------------------


@attrs.frozen
class _Table:
    """Rows to print. ``single`` marks a one-object result (``json`` prints an object)."""

    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    single: bool = False


def _plain(value: Any) -> Any:
    """A JSON-ready version of a model value."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _model_row(model: Any, columns: Sequence[str]) -> dict[str, Any]:
    return {name: _plain(getattr(model, name)) for name in columns}


def _fields(cls: type, *, skip: Sequence[str] = ("extra",)) -> tuple[str, ...]:
    return tuple(f.name for f in attrs.fields(cls) if f.name not in skip)


def _cell(value: Any) -> str:
    """A value as text in a CSV cell or a table: lists and objects as JSON, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


def _table_cell(value: Any) -> str:
    # A line break inside a cell (a PEM public key) would break the table's alignment.
    return _cell(value).replace("\r", "").replace("\n", "\\n")


def _write_plain_table(table: _Table, out: IO[str]) -> None:
    if table.single:
        # One object reads better as a list of field/value pairs than as one very wide row.
        row = table.rows[0] if table.rows else {}
        width = max((len(c) for c in table.columns), default=0)
        for name in table.columns:
            out.write(f"{name.ljust(width)}  {_table_cell(row.get(name))}".rstrip() + "\n")
        return
    cells = [[_table_cell(row.get(name)) for name in table.columns] for row in table.rows]
    widths = [
        max([len(name)] + [len(line[i]) for line in cells]) for i, name in enumerate(table.columns)
    ]
    numeric = [
        all(isinstance(row.get(name), (int, float)) or row.get(name) is None for row in table.rows)
        and any(isinstance(row.get(name), (int, float)) for row in table.rows)
        for name in table.columns
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip() + "\n"

    out.write(line(table.columns))
    out.write(line(["-" * w for w in widths]))
    for values in cells:
        out.write(line(values))


def _write_rich_table(table: _Table) -> bool:
    """Print with rich on a terminal; False when rich is missing or stdout is not a terminal."""
    if not sys.stdout.isatty():
        # Piped output stays plain: rich would fit it to an 80-column console and cut values.
        return False
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        return False
    console = Console()
    if table.single:
        grid = Table(show_header=False, box=None)
        grid.add_column(style="bold")
        grid.add_column(overflow="fold")
        row = table.rows[0] if table.rows else {}
        for name in table.columns:
            grid.add_row(name, _cell(row.get(name)))
        console.print(grid)
        return True
    rich_table = Table(show_lines=False)
    for name in table.columns:
        justify: Any = "right" if any(isinstance(r.get(name), int) for r in table.rows) else "left"
        rich_table.add_column(name, justify=justify, overflow="fold")
    for row in table.rows:
        rich_table.add_row(*(_cell(row.get(name)) for name in table.columns))
    console.print(rich_table)
    return True


def _emit(table: _Table, fmt: str) -> None:
    out = sys.stdout
    if fmt == "json":
        body: Any = (table.rows[0] if table.rows else None) if table.single else table.rows
        out.write(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    elif fmt == "jsonl":
        for row in table.rows:
            out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(table.columns)
        for row in table.rows:
            writer.writerow([_cell(row.get(name)) for name in table.columns])
        out.write(buffer.getvalue())
    elif not _write_rich_table(table):
        _write_plain_table(table, out)
    out.flush()


# -- read subcommands ----------------------------------------------------------------------------


async def _cmd_org(args: argparse.Namespace, run: _Run) -> int:
    from .models import Organization

    async with _connect(args) as client:
        org = await client.get_organization()
    columns = _fields(Organization)
    _emit(_Table(columns, [_model_row(org, columns)], single=True), args.format)
    return EXIT_OK


async def _cmd_teams(args: argparse.Namespace, run: _Run) -> int:
    from .models import Team

    columns = _fields(Team)
    async with _connect(args) as client:
        rows = [_model_row(team, columns) async for team in client.iter_teams()]
    _emit(_Table(columns, rows), args.format)
    return EXIT_OK


async def _cmd_users(args: argparse.Namespace, run: _Run) -> int:
    from .models import User

    if args.deactivated and not args.unassigned:
        raise UsageError("--deactivated lists unassigned users: use it with --unassigned")
    columns = _fields(User)
    async with _connect(args) as client:
        if args.team is not None:
            rows = [_model_row(u, columns) async for u in client.iter_team_users(args.team)]
        elif args.unassigned:
            listing = client.iter_unassigned_users(active=not args.deactivated)
            rows = [_model_row(u, columns) async for u in listing]
        else:
            rows = await _all_users(client, columns)
            columns = (*columns, "team_ids")
    _emit(_Table(columns, rows), args.format)
    return EXIT_OK


async def _all_users(client: TabnineClient, columns: Sequence[str]) -> list[dict[str, Any]]:
    """Every user once, with every team the user is in (team listings in team order)."""
    teams = [team.id async for team in client.iter_teams()]
    limiter = asyncio.Semaphore(DRY_RUN_LISTING_PARALLELISM)

    async def members(team_id: str) -> list[Any]:
        async with limiter:
            return [user async for user in client.iter_team_users(team_id)]

    async def unassigned(active: bool) -> list[Any]:
        async with limiter:
            return [user async for user in client.iter_unassigned_users(active=active)]

    listed = await asyncio.gather(*(members(t) for t in teams))
    loners = await asyncio.gather(unassigned(True), unassigned(False))
    rows: dict[str, dict[str, Any]] = {}
    for team_id, users in zip(teams, listed, strict=True):
        for user in users:
            row = rows.setdefault(user.id, {**_model_row(user, columns), "team_ids": []})
            if team_id not in row["team_ids"]:
                row["team_ids"].append(team_id)
    for users in loners:
        for user in users:
            rows.setdefault(user.id, {**_model_row(user, columns), "team_ids": []})
    return list(rows.values())


async def _cmd_usage(args: argparse.Namespace, run: _Run) -> int:
    start, end = resolve_range(args.start, args.end)
    granularity = parse_granularity(args.granularity)
    async with _connect(args) as client:
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
    _emit(_Table(RECORD_FIELDS, [r.to_row() for r in records]), args.format)
    return EXIT_OK


async def _cmd_license(args: argparse.Namespace, run: _Run) -> int:
    from .models import License

    async with _connect(args) as client:
        found = await client.get_license()
    columns = _fields(License)
    _emit(_Table(columns, [_model_row(found, columns)], single=True), args.format)
    return EXIT_OK


async def _cmd_utilization(args: argparse.Namespace, run: _Run) -> int:
    from .models import TeamUtilization

    if args.team is not None and args.since is not None:
        raise UsageError("--since applies to the organization's months, not to --team")
    async with _connect(args) as client:
        if args.team is not None:
            seats = await client.get_team_utilization(args.team)
            columns: tuple[str, ...] = ("team_id", *_fields(TeamUtilization))
            row = {"team_id": args.team, **_model_row(seats, _fields(TeamUtilization))}
            table = _Table(columns, [row], single=True)
        else:
            months = await client.get_account_utilizations(args.since)
            # ``month`` is the calendar month (1 = January), never the API's zero-based number.
            columns = ("year", "month", "registered", "deactivated", "active", "pending")
            table = _Table(columns, [_model_row(m, columns) for m in months])
    _emit(table, args.format)
    return EXIT_OK


async def _cmd_admins(args: argparse.Namespace, run: _Run) -> int:
    from .models import PermissionUser

    columns = _fields(PermissionUser)
    async with _connect(args) as client:
        admins = await client.get_permissions("Admin")
    _emit(_Table(columns, [_model_row(a, columns) for a in admins]), args.format)
    return EXIT_OK


# -- backfill ------------------------------------------------------------------------------------


@attrs.frozen
class _BackfillPlan:
    """The validated arguments of a backfill."""

    start: datetime
    end: datetime
    granularity: Granularity
    window_name: str
    windows: list[Window]
    scopes: tuple[str, ...]
    include_unassigned: bool
    output: Path
    format: str
    checkpoint: Path


def _plan_backfill(args: argparse.Namespace) -> _BackfillPlan:
    """Check every backfill argument without touching the network or the disk."""
    from .checkpoint import default_path
    from .sinks import format_for_path

    start, end = resolve_range(args.start, args.end)
    granularity = parse_granularity(args.granularity)
    window = parse_window(args.window)
    windows = split_windows(start, end, window)
    scopes = parse_scopes(args.scope)
    output: Path = args.output
    fmt = args.format or format_for_path(output)
    return _BackfillPlan(
        start=start,
        end=end,
        granularity=granularity,
        window_name="none" if window is None else str(window),
        windows=windows,
        scopes=scopes,
        include_unassigned=args.include_unassigned,
        output=output,
        format=fmt,
        checkpoint=args.checkpoint if args.checkpoint is not None else default_path(output),
    )


def _prepare_folder(path: Path, what: str) -> None:
    """Create the folder of ``path`` if missing; refuse one that cannot be written."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InvalidParameterError(f"cannot create the {what} folder {folder}: {reason}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidParameterError(f"the {what} folder {folder} is not writable")
    if path.is_dir():
        raise InvalidParameterError(f"the {what} {path} is a folder; give a file name")


async def _cmd_backfill(args: argparse.Namespace, run: _Run) -> int:
    plan = _plan_backfill(args)
    async with _connect(args) as client:
        if args.dry_run:
            await _dry_run(client, args, plan)
            return EXIT_OK
        _prepare_folder(plan.output, "output")
        _prepare_folder(plan.checkpoint, "checkpoint")
        run.interrupt_note = (
            f"interrupted; the checkpoint {plan.checkpoint} is intact: "
            "run the same command again to resume"
        )
        return await _backfill(client, args, plan)


async def _backfill(client: TabnineClient, args: argparse.Namespace, plan: _BackfillPlan) -> int:
    from .backfill import backfill

    progress = _ProgressReporter.create(client, quiet=args.quiet)
    census: asyncio.Task[_Census] | None = None
    if progress.shown:
        # The walk's counters have no total until its last unit is queued; listing the
        # organization alongside (about one request in a hundred) gives the display its total.
        census = asyncio.ensure_future(_census(client, plan))
        census.add_done_callback(lambda task: progress.set_total(task, len(plan.windows)))
    await progress.start()
    try:
        summary = await backfill(
            client,
            plan.start,
            plan.end,
            sink=plan.output,
            output_format=plan.format,
            checkpoint=plan.checkpoint,
            granularity=plan.granularity.value,
            window=args.window,
            scopes=plan.scopes,
            include_unassigned=plan.include_unassigned,
            on_error="collect",
            on_progress=progress.update,
        )
    finally:
        if census is not None:
            census.cancel()
            # A failed census only costs the display its total.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await census
        await progress.stop()
    if not args.quiet:
        checkpoint = summary.checkpoint if summary.checkpoint is not None else "none"
        print(
            f"backfill {'finished' if summary.ok else 'finished with failures'}: "
            f"{summary.records_written} records written to {summary.output} ({plan.format})\n"
            f"  units: {summary.units_done} done, {summary.units_skipped} skipped "
            f"(done by an earlier run), {len(summary.failed)} failed\n"
            f"  requests: {summary.requests} ({summary.retries} retries, "
            f"{summary.rate_limited} answered 429), elapsed {summary.elapsed:.1f} s\n"
            f"  checkpoint: {checkpoint}",
            file=sys.stderr,
            flush=True,
        )
    if summary.ok:
        return EXIT_OK
    lines = [
        f"{PROG}: {len(summary.failed)} unit(s) failed; running the same command again "
        "fetches them again:"
    ]
    lines += [f"  {f.key}: {_one_line(f.cause)}" for f in summary.failed[:MAX_FAILURES_SHOWN]]
    if len(summary.failed) > MAX_FAILURES_SHOWN:
        lines.append(f"  ... and {len(summary.failed) - MAX_FAILURES_SHOWN} more")
    print("\n".join(lines), file=sys.stderr, flush=True)
    return EXIT_FAILED


# -- dry run -------------------------------------------------------------------------------------


@attrs.frozen
class _Census:
    """What a walk of the organization would fetch, from its listings alone."""

    counts: dict[str, int]  # entities per scope
    listing_requests: int
    latency: float  # mean seconds per listing request

    def units(self, windows: int) -> int:
        """Usage requests: every entity over every window."""
        return sum(self.counts.values()) * windows


async def _census(client: TabnineClient, plan: _BackfillPlan) -> _Census:
    """List the organization, its teams and their users the way the walk does, and count."""
    requests_before = client.stats.requests
    busy = 0.0  # seconds spent in listing calls, summed over the parallel listings
    limiter = asyncio.Semaphore(DRY_RUN_LISTING_PARALLELISM)

    async def timed(listing: Callable[[], Awaitable[list[str]]]) -> list[str]:
        nonlocal busy
        async with limiter:
            began = time.monotonic()
            try:
                return await listing()
            finally:
                busy += time.monotonic() - began

    async def organization() -> list[str]:
        return [(await client.get_organization()).id]

    async def teams() -> list[str]:
        return [team.id async for team in client.iter_teams()]

    def members(team_id: str) -> Callable[[], Awaitable[list[str]]]:
        async def listing() -> list[str]:
            return [user.id async for user in client.iter_team_users(team_id)]

        return listing

    def unassigned(active: bool) -> Callable[[], Awaitable[list[str]]]:
        async def listing() -> list[str]:
            return [user.id async for user in client.iter_unassigned_users(active=active)]

        return listing

    await timed(organization)
    team_ids = await timed(teams) if {"team", "user"} & set(plan.scopes) else []
    user_ids: dict[str, None] = {}
    if "user" in plan.scopes:
        listings = [members(t) for t in team_ids]
        if plan.include_unassigned:
            listings += [unassigned(True), unassigned(False)]
        for found in await asyncio.gather(*(timed(listing) for listing in listings)):
            user_ids.update(dict.fromkeys(found))
    listing_requests = client.stats.requests - requests_before
    counts = {
        "organization": 1 if "organization" in plan.scopes else 0,
        "team": len(team_ids) if "team" in plan.scopes else 0,
        "user": len(user_ids),
    }
    latency = busy / listing_requests if listing_requests else 0.0
    return _Census(counts, listing_requests, latency)


async def _dry_run(client: TabnineClient, args: argparse.Namespace, plan: _BackfillPlan) -> None:
    """List the organization like the backfill would; print the plan and a duration estimate."""
    census = await _census(client, plan)
    usage_requests = census.units(len(plan.windows))
    by_concurrency = usage_requests * census.latency / client.max_concurrency
    by_rate = usage_requests / args.rate_limit if args.rate_limit else 0.0
    estimate = max(by_concurrency, by_rate)
    limit = f"{args.rate_limit:g} requests/s" if args.rate_limit else "no rate limit"
    bound = "the rate limit" if by_rate > by_concurrency else "the latency"
    counts = census.counts
    print(
        "dry run: listed the organization; no usage was fetched\n"
        f"  organization: {counts['organization']}\n"
        f"  teams: {counts['team']}\n"
        f"  users: {counts['user']}"
        f"{'' if plan.include_unassigned else ' (users in no team left out)'}\n"
        f"  windows: {len(plan.windows)} ({plan.window_name}) over "
        f"{format_datetime(plan.start)} .. {format_datetime(plan.end)}, "
        f"granularity {plan.granularity.value}\n"
        f"  usage requests: {usage_requests}\n"
        f"  listing requests: {census.listing_requests}, "
        f"mean latency {census.latency * 1000:.1f} ms\n"
        f"  estimated duration: {_duration(estimate)} at concurrency {client.max_concurrency}, "
        f"{limit} (bound by {bound})\n"
        f"  output: {plan.output} ({plan.format}), checkpoint: {plan.checkpoint}",
        flush=True,
    )


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


# -- progress ------------------------------------------------------------------------------------


class _ProgressReporter:
    """Shows a backfill's progress on stderr: a rich bar, periodic plain lines, or nothing.

    ``update`` is the backfill's ``on_progress`` callback and only stores the counters; a ticker
    task renders them, so a fast walk does not spend its time printing.
    """

    def __init__(self, client: TabnineClient, interval: float) -> None:
        self._client = client
        self._interval = interval
        self._progress: WalkProgress | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = time.monotonic()
        self._last = (self._started, client.stats.requests)
        self._total: int | None = None

    @property
    def shown(self) -> bool:
        """Whether anything is displayed."""
        return self._interval > 0

    @staticmethod
    def create(client: TabnineClient, *, quiet: bool) -> _ProgressReporter:
        """The reporter that fits stderr: rich on a terminal, plain lines otherwise."""
        if quiet:
            return _ProgressReporter(client, 0.0)
        if sys.stderr.isatty():
            try:
                return _RichProgress(client)
            except ImportError:
                pass
        return _PlainProgress(client, PLAIN_PROGRESS_INTERVAL)

    def update(self, progress: WalkProgress) -> None:
        """Remember the latest counters (called after every unit)."""
        self._progress = progress

    def set_total(self, census: asyncio.Task[_Census], windows: int) -> None:
        """Take the total number of units from a finished census; ignore a failed one."""
        if not census.cancelled() and census.exception() is None:
            self._total = census.result().units(windows)

    async def start(self) -> None:
        """Begin rendering."""
        if self._interval > 0:
            self._task = asyncio.ensure_future(self._tick())

    async def stop(self) -> None:
        """Stop rendering and show the final state."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._close()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            self._render()

    def _rate(self) -> float:
        now, requests = time.monotonic(), self._client.stats.requests
        last_time, last_requests = self._last
        self._last = (now, requests)
        return (requests - last_requests) / (now - last_time) if now > last_time else 0.0

    def _render(self) -> None:
        pass

    def _close(self) -> None:
        pass


class _PlainProgress(_ProgressReporter):
    def _render(self) -> None:
        p = self._progress or WalkProgress()
        finished = p.units_done + p.units_failed + p.units_skipped
        total = "?" if self._total is None else str(self._total)
        print(
            f"{PROG}: units {finished}/{total} records {p.records} "
            f"req/s {self._rate():.1f} retries {self._client.stats.retries}",
            file=sys.stderr,
            flush=True,
        )


class _RichProgress(_ProgressReporter):
    def __init__(self, client: TabnineClient) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeRemainingColumn,
        )

        super().__init__(client, RICH_REFRESH_INTERVAL)
        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("units"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[records]} records"),
            TextColumn("{task.fields[rate]:.1f} req/s"),
            TextColumn("{task.fields[retries]} retries"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._task_id = self._bar.add_task("backfill", total=None, records=0, rate=0.0, retries=0)
        self._bar.start()

    def _render(self) -> None:
        p = self._progress or WalkProgress()
        self._bar.update(
            self._task_id,
            # No total (and no ETA) until the census has counted the units.
            total=self._total,
            completed=p.units_done + p.units_failed + p.units_skipped,
            records=p.records,
            rate=self._rate(),
            retries=self._client.stats.retries,
        )

    def _close(self) -> None:
        self._render()
        self._bar.stop()


# -- running -------------------------------------------------------------------------------------


@attrs.define
class _Run:
    """State of one command run that the top level needs when it is interrupted."""

    interrupt_note: str = "interrupted"


Handler = Callable[[argparse.Namespace, _Run], Awaitable[int]]


async def _run_command(handler: Handler, args: argparse.Namespace, run: _Run) -> int:
    """Run the command; SIGINT and SIGTERM cancel it, so cleanup (the checkpoint) still runs."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    interrupted = False
    installed: list[signal.Signals] = []

    def uninstall() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)
        installed.clear()

    def on_signal() -> None:
        nonlocal interrupted
        interrupted = True
        # A second signal gets the default behaviour, so a stuck cleanup can still be stopped.
        uninstall()
        task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, on_signal)
            installed.append(sig)
    try:
        return await handler(args, run)
    except asyncio.CancelledError:
        if not interrupted:
            raise
        return EXIT_INTERRUPTED
    finally:
        uninstall()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tabnine-usage`` command line with ``argv`` (default: ``sys.argv[1:]``).

    Returns the exit code: 0 done, 1 failed units or an API error, 2 bad usage or configuration,
    130 interrupted.
    """
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
    except UsageError as exc:
        _error(exc)
        return EXIT_USAGE
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    if args.handler is None:
        from .testing import fake_server_main

        return fake_server_main(args)
    restore_logging = _configure_logging(args.verbose, args.quiet)
    run = _Run()
    try:
        code = asyncio.run(_run_command(args.handler, args, run))
        if code == EXIT_INTERRUPTED:
            _note(run.interrupt_note)
        return code
    except KeyboardInterrupt:
        _note(run.interrupt_note)
        return EXIT_INTERRUPTED
    except (UsageError, ConfigurationError, InvalidParameterError) as exc:
        _show_traceback(args)
        _error(exc)
        return EXIT_USAGE
    except TabnineError as exc:
        _show_traceback(args)
        _error(f"{type(exc).__name__}: {exc}")
        return EXIT_FAILED
    except OSError as exc:
        _show_traceback(args)
        _error(exc)
        return EXIT_FAILED
    except Exception as exc:
        _show_traceback(args)
        hint = "" if args.debug else " (run with --debug for the traceback)"
        _error(f"unexpected {type(exc).__name__}: {exc}{hint}")
        return EXIT_FAILED
    finally:
        restore_logging()


def _show_traceback(args: argparse.Namespace) -> None:
    if args.debug:
        traceback.print_exc(file=sys.stderr)
