"""The command-line parser: subcommands, and the options every subcommand shares."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import NoReturn

from .._version import __version__
from ..client import DEFAULT_BASE_URL
from ..streams import STREAMS
from ._backfill import cmd_backfill
from ._config import ENV_BASE_URL, ENV_TOKEN, FAKE_SEED, FAKE_TEAMS, FAKE_USERS
from ._current import AGENT_BREAKDOWNS, cmd_agent_usage, cmd_audit_log, cmd_invitations
from ._errors import PROG, UsageError
from ._output import READ_FORMATS
from ._reads import (
    cmd_admins,
    cmd_license,
    cmd_org,
    cmd_teams,
    cmd_usage,
    cmd_users,
    cmd_utilization,
)
from ._report import add_report_parser
from ._sync import add_sync_commands

__all__ = ["build_parser"]


class Parser(argparse.ArgumentParser):
    """An argparse parser that raises instead of printing usage and exiting.

    ``main`` turns the error into exactly one line on stderr, like every other usage error.
    """

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


# -- argument types ------------------------------------------------------------------------------


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _positive_int(text: str) -> int:
    value = _whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = _whole_number(text)
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
        "--page-size",
        metavar="N",
        type=_positive_int,
        default=default(None),
        help="items asked for per page of a listing (default: 100)",
    )
    connection.add_argument(
        "--proxy",
        metavar="URL",
        default=default(None),
        help="forward proxy http://[user:password@]host:port "
        "(default: $HTTPS_PROXY / $HTTP_PROXY, minus $NO_PROXY)",
    )
    connection.add_argument(
        "--ca-bundle",
        metavar="PATH",
        type=Path,
        default=default(None),
        help="PEM file or folder of the certificate authorities to trust, for an internal CA "
        "(default: $REQUESTS_CA_BUNDLE, else the system's, honouring $SSL_CERT_FILE)",
    )
    connection.add_argument(
        "--client-cert",
        metavar="PATH",
        type=Path,
        default=default(None),
        help="PEM client certificate for mutual TLS (may hold the key too)",
    )
    connection.add_argument(
        "--client-key",
        metavar="PATH",
        type=Path,
        default=default(None),
        help="the client certificate's private key, if in a file of its own",
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
    fake.add_argument(
        "--fake-version",
        choices=("6.2", "5.x"),
        default=default("6.2"),
        help="Tabnine version the fake plays; 5.x has no v2 or agent usage (default: 6.2)",
    )
    fake.add_argument(
        "--fake-no-agent-license",
        action="store_true",
        default=default(False),
        help="the fake's licence lacks the Agent feature (agent usage answers 403)",
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
    # The fake server's options come with the fake server, which only ``--fake`` and
    # ``fake-server`` run: importing it here keeps ``import tabnine_usage_async.cli`` light.
    from ..sinks import FORMATS
    from ..testing import add_fake_server_arguments

    parser = Parser(
        prog=PROG,
        description="Fetch Tabnine usage metrics: bulk backfills into files, and quick reads.",
        epilog=f"The API token comes from ${ENV_TOKEN} or --token-file, never from an argument.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_common_options(parser, top_level=True)
    common = Parser(add_help=False)
    _add_common_options(common, top_level=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    backfill = commands.add_parser(
        "backfill",
        parents=[common],
        help="fetch every usage record of a period into a file, resumably",
        description=(
            "Fetch the usage of the organization, every team and every user over [start, end) "
            "into one output file (UsageRecord rows of v1 usage), or with --streams one file "
            "per stream into a folder: --output DIR --format FMT writes DIR/<stream>.<FMT>. "
            "Interrupted runs resume where they stopped when run again with the same arguments."
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
    backfill.add_argument(
        "--streams",
        default=None,
        metavar="LIST",
        help=(
            f"comma-separated streams to export, of: {', '.join(s.name for s in STREAMS)}; "
            "--output is then a folder that gets one <stream>.<format> file each"
        ),
    )
    backfill.add_argument(
        "--output",
        "-o",
        required=True,
        type=Path,
        help="the output file; with --streams, the output folder",
    )
    backfill.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="output format (default: from the output's extension; required with --streams)",
    )
    backfill.add_argument(
        "--checkpoint",
        metavar="PATH",
        type=Path,
        default=None,
        help="progress file for resuming (default: <output>.checkpoint.sqlite beside it)",
    )
    backfill.add_argument(
        "--dry-run",
        action="store_true",
        help="list the organization and show what would be fetched; fetch no usage",
    )
    backfill.set_defaults(handler=cmd_backfill)
    add_sync_commands(commands, common)

    add_report_parser(commands, common)

    org = commands.add_parser("org", parents=[common], help="the organization")
    _add_read_format(org)
    org.set_defaults(handler=cmd_org)

    teams = commands.add_parser("teams", parents=[common], help="every team")
    _add_read_format(teams)
    teams.set_defaults(handler=cmd_teams)

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
    users.set_defaults(handler=cmd_users)

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
    usage.add_argument(
        "--api",
        choices=("auto", "v1", "v2"),
        default="auto",
        help=(
            "usage endpoints: v2 (Tabnine 6.2+), v1 (legacy; frozen at the upgrade on 6.2+), or "
            "auto: v2 when the server has it (default: auto)"
        ),
    )
    _add_read_format(usage)
    usage.set_defaults(handler=cmd_usage)

    agent = commands.add_parser(
        "agent-usage",
        parents=[common],
        help="agent tokens and cost of the organization, a team or a user (Tabnine 6.2+)",
    )
    agent_target = agent.add_mutually_exclusive_group(required=True)
    agent_target.add_argument("--organization", action="store_true", help="the organization")
    agent_target.add_argument("--team", metavar="ID", help="one team")
    agent_target.add_argument("--user", metavar="ID", help="one user")
    agent.add_argument("--start", required=True, help="YYYY-MM-DD or RFC 3339")
    agent.add_argument("--end", required=True, help="end (exclusive), YYYY-MM-DD or RFC 3339")
    agent.add_argument(
        "--granularity", default="daily", help="all, daily, weekly or monthly (default: daily)"
    )
    agent.add_argument(
        "--by",
        choices=AGENT_BREAKDOWNS,
        default="point",
        help="one row per period, per period and model, or per period and agent type",
    )
    _add_read_format(agent)
    agent.set_defaults(handler=cmd_agent_usage)

    audit = commands.add_parser(
        "audit-log",
        parents=[common],
        help="the organization's audit events (Tabnine 6.2+)",
        description=(
            "Audit events, newest first by default. --format csv streams the server's own CSV "
            "export (to stdout, or atomically to --output)."
        ),
    )
    audit.add_argument("--since", metavar="WHEN", help="first moment, YYYY-MM-DD or RFC 3339")
    audit.add_argument("--until", metavar="WHEN", help="end (exclusive), YYYY-MM-DD or RFC 3339")
    audit.add_argument("--event-type", metavar="TYPE", help="e.g. team_member.added")
    audit.add_argument("--actor-id", metavar="ID", help="events by this actor")
    audit.add_argument("--actor-email", metavar="EMAIL", help="events by this actor")
    audit.add_argument("--resource-type", metavar="TYPE", help="team, user, role, organization")
    audit.add_argument("--resource-id", metavar="ID", help="events on this resource")
    audit.add_argument("--sort", choices=("desc", "asc"), default="desc", help="(default: desc)")
    audit.add_argument(
        "--output", "-o", type=Path, default=None, help="with --format csv: write to this file"
    )
    _add_read_format(audit)
    audit.set_defaults(handler=cmd_audit_log)

    invitations = commands.add_parser(
        "invitations", parents=[common], help="pending invitations (Tabnine 6.2+)"
    )
    invitations.add_argument("--team", metavar="ID", help="one team's invitations")
    _add_read_format(invitations)
    invitations.set_defaults(handler=cmd_invitations)

    license_ = commands.add_parser("license", parents=[common], help="the installation's license")
    _add_read_format(license_)
    license_.set_defaults(handler=cmd_license)

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
    utilization.set_defaults(handler=cmd_utilization)

    admins = commands.add_parser("admins", parents=[common], help="users with the Admin role")
    _add_read_format(admins)
    admins.set_defaults(handler=cmd_admins)

    fake_server = commands.add_parser(
        "fake-server",
        help="serve a fake Tabnine API on 127.0.0.1 until Ctrl-C",
        description="Serve a fake Tabnine Usage Metrics API with a synthetic organization.",
    )
    add_fake_server_arguments(fake_server)
    fake_server.set_defaults(handler=None)
    return parser
