"""The ``sync`` and ``status`` subcommands: keep a dataset current, and say how current it is."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from typing import Any

from ..destinations import (
    Destination,
    DestinationBusyError,
    DestinationError,
    open_destination,
)
from ..errors import InvalidParameterError
from ..streams import STREAMS
from ..sync import DEFAULT_LOOKBACK, SyncPlan, SyncSpec, SyncSummary, plan_sync, run_sync
from ..windows import format_datetime
from ._backfill import MAX_FAILURES_SHOWN
from ._config import connect
from ._errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, PROG, error, one_line
from ._progress import ProgressReporter
from ._run import Run

__all__ = ["add_sync_commands", "build_spec", "cmd_status", "cmd_sync"]


def add_sync_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``sync`` and ``status`` to the subcommand parsers."""
    names = ", ".join(s.name for s in STREAMS)
    sync = commands.add_parser(
        "sync",
        parents=[common],
        help="keep a dataset (SQLite file, Parquet folder) current; run it on a schedule",
        description=(
            "Bring a dataset up to now: the first run fetches from --since, each later run "
            "fetches new periods, re-fetches those that may still change (the open period and "
            "the lookback), and picks up new users and teams. Killed at any moment, the next "
            "run goes on where it stopped; nothing is lost or doubled."
        ),
    )
    sync.add_argument(
        "--to", required=True, metavar="DEST", help="the dataset: x.sqlite or a folder"
    )
    sync.add_argument(
        "--since", metavar="DATE", default=None, help="first day (needed by the first sync)"
    )
    sync.add_argument("--streams", default=None, help=f"comma-separated, of: {names}")
    sync.add_argument(
        "--lookback",
        default=f"{DEFAULT_LOOKBACK.days}d",
        help="how long a period may still change after it ends, e.g. 3d or 36h (default: 3d)",
    )
    sync.add_argument("--granularity", default="daily", help="daily, weekly or monthly")
    sync.add_argument("--window", default="month", help="period of one request: day/week/month")
    sync.add_argument("--api", default="auto", help="auto, v2 or v1 (default: auto)")
    sync.add_argument(
        "--now",
        default=None,
        help="sync up to this moment instead of the clock (replays and tests)",
    )
    sync.add_argument(
        "--dry-run", action="store_true", help="show the job and the requests each stream costs"
    )
    sync.set_defaults(handler=cmd_sync)

    status = commands.add_parser(
        "status",
        parents=[common],
        help="how current a dataset is; exit 0 only if its last run succeeded",
    )
    status.add_argument(
        "--to", required=True, metavar="DEST", help="the dataset: x.sqlite or a folder"
    )
    status.add_argument("--runs", type=int, default=5, help="how many recent runs to show")
    status.set_defaults(handler=cmd_status)


def _destination(target: str) -> Destination:
    """The destination ``--to`` names; a target no destination takes is a usage error."""
    try:
        return open_destination(target)
    except DestinationError as exc:
        raise InvalidParameterError(str(exc)) from None


def build_spec(args: argparse.Namespace) -> SyncSpec:
    """The job of ``sync``'s arguments, validated once."""
    return SyncSpec.build(
        args.to,
        streams=args.streams,
        since=args.since,
        now=args.now,
        lookback=args.lookback,
        granularity=args.granularity,
        window=args.window,
        api=args.api,
    )


async def cmd_sync(args: argparse.Namespace, run: Run) -> int:
    """``sync``: bring the dataset up to now, or show what that would cost (--dry-run)."""
    spec = build_spec(args)
    dest = _destination(spec.destination)
    async with connect(args) as client:
        if args.dry_run:
            _print_plan(spec, await plan_sync(client, spec, dest), dest.display)
            return EXIT_OK
        run.interrupt_note = (
            f"interrupted; {dest.display} holds every unit written so far: "
            "run the same command again to go on"
        )
        progress = ProgressReporter.create(client, quiet=args.quiet)
        await progress.start()
        try:
            summary = await run_sync(client, spec, dest, on_progress=progress.update)
        except DestinationBusyError as exc:
            error(exc)
            return EXIT_USAGE
        finally:
            await progress.stop()
    if not args.quiet:
        _print_summary(summary)
    if summary.ok:
        return EXIT_OK
    _print_failures(summary)
    return EXIT_FAILED


def _print_plan(spec: SyncSpec, plan: SyncPlan, display: str) -> None:
    lines = [
        "sync job:",
        # The destination's display, never the --to text: a database URL may hold a password.
        json.dumps({**spec.to_json(), "destination": display}, indent=2),
        f"api: {plan.api_version}; dataset from {format_datetime(plan.start)} to "
        f"{format_datetime(plan.now)}; {plan.entities} entities",
        "requests per stream (streams of one source share them):",
    ]
    for p in plan.per_stream:
        reasons = ", ".join(f"{n} {r}" for r, n in sorted(p.by_reason.items())) or "nothing due"
        lines.append(f"  {p.stream}: {p.units} ({reasons})")
    lines.append(f"total requests (besides listings and paging): {plan.jobs}")
    print("\n".join(lines), flush=True)


def _print_summary(summary: SyncSummary) -> None:
    lines = [
        f"sync {summary.status} (run {summary.run_id}, api {summary.api_version}): "
        f"{summary.records} rows in {summary.units_done} units written to {summary.destination}",
    ]
    for name, counts in summary.per_stream.items():
        failed = f", {counts.get('failed', 0)} failed" if counts.get("failed") else ""
        lines.append(
            f"  {name}: {counts.get('units', 0)} units, {counts.get('rows', 0)} rows{failed}"
        )
    lines.append(
        f"  requests: {summary.requests} ({summary.retries} retries, "
        f"{summary.rate_limited} answered 429), elapsed {summary.elapsed:.1f} s"
    )
    print("\n".join(lines), file=sys.stderr, flush=True)


def _print_failures(summary: SyncSummary) -> None:
    lines = [f"{PROG}: {len(summary.failed)} unit(s) failed; the next sync fetches them again:"]
    lines += [f"  {f.key}: {one_line(f.cause)}" for f in summary.failed[:MAX_FAILURES_SHOWN]]
    if len(summary.failed) > MAX_FAILURES_SHOWN:
        lines.append(f"  ... and {len(summary.failed) - MAX_FAILURES_SHOWN} more")
    print("\n".join(lines), file=sys.stderr, flush=True)


def _age(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    hours = (now - moment).total_seconds() / 3600
    return f"{format_datetime(moment)} ({hours:.1f} h ago)"


async def cmd_status(args: argparse.Namespace, run: Run) -> int:
    """``status``: freshness per stream and the last runs; exit 0 only after a successful run."""
    dest = _destination(args.to)
    await dest.open([], lock=False)
    try:
        runs = await dest.runs(max(1, args.runs))
        now = datetime.now(timezone.utc)
        lines = [f"dataset {dest.display}"]
        for stream in STREAMS:
            units = await dest.units(stream.name)
            if not units:
                continue
            last = max(u.fetched_at for u in units.values())
            provisional = sum(1 for u in units.values() if not u.complete)
            rows = sum(u.rows for u in units.values())
            lines.append(
                f"  {stream.name}: {len(units)} units, {rows} rows, last fetched "
                f"{_age(last, now)}, {provisional} provisional"
            )
        lines.append("runs (newest first):")
        for r in runs:
            failed = r.summary.get("failed_count", 0) if r.summary else 0
            lines.append(
                f"  #{r.run_id} {r.status} api {r.api_version} started "
                f"{format_datetime(r.started_at)} records {r.summary.get('records', '-')} "
                f"failed units {failed}"
            )
        if not runs:
            lines.append("  none")
    finally:
        await dest.close()
    print("\n".join(lines), flush=True)
    return EXIT_OK if runs and runs[0].status == "succeeded" else EXIT_FAILED
