"""The ``backfill`` subcommand: check the arguments, run the backfill, print its summary."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import attrs

from .._wire import parse_granularity
from ..backfill import BackfillSummary, backfill, check_paths, check_stream_outputs
from ..checkpoint import default_path
from ..client import TabnineClient
from ..errors import InvalidParameterError
from ..models import Granularity
from ..orchestrator import parse_scopes, parse_window, planned_windows
from ..records import Scope
from ..sinks import format_for_path
from ..sinks._paths import OwnedPaths, check_plain
from ..streams import Stream, parse_streams
from ..windows import Window, format_datetime, resolve_range, split_windows
from ._config import connect
from ._dryrun import dry_run
from ._errors import EXIT_FAILED, EXIT_OK, PROG, note, one_line
from ._progress import ProgressReporter
from ._run import Run

__all__ = ["BackfillPlan", "cmd_backfill"]

# A summary listing thousands of failed units would drown the rest; the checkpoint keeps them all.
MAX_FAILURES_SHOWN = 50


@attrs.frozen
class BackfillPlan:
    """The validated arguments of a backfill."""

    start: datetime
    end: datetime
    granularity: Granularity
    window_name: str
    windows: list[Window]
    scopes: tuple[Scope, ...]
    include_unassigned: bool
    output: Path
    format: str
    checkpoint: Path
    now: datetime
    planned: list[Window]
    streams: tuple[Stream, ...] | None = None
    outputs: dict[str, Path] = attrs.field(factory=dict)


def plan_backfill(args: argparse.Namespace) -> BackfillPlan:
    """Check every backfill argument without touching the network or the disk."""
    start, end = resolve_range(args.start, args.end)
    granularity = parse_granularity(args.granularity)
    window = parse_window(args.window)
    windows = split_windows(start, end, window)
    # One clock reading for the whole run: the note below and the walk agree on what is due.
    now = datetime.now(timezone.utc).replace(microsecond=0)
    scopes = parse_scopes(args.scope)
    output: Path = args.output
    checkpoint = args.checkpoint if args.checkpoint is not None else default_path(output)
    streams = None if args.streams is None else parse_streams(args.streams)
    if streams is None:
        # Before the format: "-" has no extension, and the reason to refuse it is another.
        check_plain(OwnedPaths((output,)), "output")
        fmt = args.format or format_for_path(output)
        check_paths(output, fmt, checkpoint)
        outputs = {"usage_records": output}
    else:
        fmt, outputs = check_stream_outputs(output, args.format, streams, checkpoint)
    return BackfillPlan(
        start=start,
        end=end,
        granularity=granularity,
        window_name="none" if window is None else str(window),
        windows=windows,
        scopes=scopes,
        include_unassigned=args.include_unassigned,
        output=output,
        format=fmt,
        checkpoint=checkpoint,
        now=now,
        planned=planned_windows(windows, granularity, now, final_only=True),
        streams=streams,
        outputs=outputs,
    )


def prepare_folder(path: Path, what: str) -> None:
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


async def cmd_backfill(args: argparse.Namespace, run: Run) -> int:
    """``backfill``: fetch every record of the period into the output, or plan it (--dry-run)."""
    plan = plan_backfill(args)
    async with connect(args) as client:
        if args.dry_run:
            await dry_run(client, args, plan)
            return EXIT_OK
        _note_not_ended(plan)
        # With streams, the first stream's file: its folder is the output folder.
        prepare_folder(next(iter(plan.outputs.values())), "output")
        prepare_folder(plan.checkpoint, "checkpoint")
        run.interrupt_note = (
            f"interrupted; the checkpoint {plan.checkpoint} is intact: "
            "run the same command again to resume"
        )
        return await _backfill(client, args, plan, run)


async def _backfill(
    client: TabnineClient, args: argparse.Namespace, plan: BackfillPlan, run: Run
) -> int:
    progress = ProgressReporter.create(client, quiet=args.quiet)
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
            now=plan.now,
            streams=None if plan.streams is None else [s.name for s in plan.streams],
        )
    finally:
        await progress.stop()
    # From here the run has finished: a late signal must not also report it "interrupted".
    run.finished = EXIT_OK if summary.ok else EXIT_FAILED
    if not args.quiet:
        _print_summary(summary, plan)
    if not summary.ok:
        _print_failures(summary)
    return run.finished


def _note_not_ended(plan: BackfillPlan) -> None:
    """Say once, before the run, which windows are left out because they have not ended."""
    left = len(plan.windows) - len(plan.planned)
    if not left:
        return
    future = ""
    if plan.end > plan.now:
        future = f"--end {format_datetime(plan.end)} lies in the future; "
    first = plan.windows[len(plan.planned)]
    note(
        f"{future}{left} of {len(plan.windows)} windows (from {format_datetime(first.start)}) "
        f"hold {plan.granularity.value} periods that have not ended yet: they are not fetched "
        "now. Run the same command again after they end to fetch them."
    )


def _print_summary(summary: BackfillSummary, plan: BackfillPlan) -> None:
    checkpoint = summary.checkpoint if summary.checkpoint is not None else "none"
    later = (
        f", {summary.windows_not_ended} window(s) not ended yet (fetched by a later run)"
        if summary.windows_not_ended
        else ""
    )
    files = ""
    if plan.streams is not None:
        files = "".join(
            f"\n    {name}: {summary.per_stream.get(name, 0)} rows to {path}"
            for name, path in summary.outputs.items()
        )
    print(
        f"backfill {'finished' if summary.ok else 'finished with failures'}: "
        f"{summary.records_written} records written to {summary.output} ({plan.format})"
        f"{files}\n"
        f"  units: {summary.units_done} done, {summary.units_skipped} skipped "
        f"(done by an earlier run), {len(summary.failed)} failed{later}\n"
        f"  requests: {summary.requests} ({summary.retries} retries, "
        f"{summary.rate_limited} answered 429), elapsed {summary.elapsed:.1f} s\n"
        f"  checkpoint: {checkpoint}",
        file=sys.stderr,
        flush=True,
    )


def _print_failures(summary: BackfillSummary) -> None:
    """List the failed units with their causes, even with --quiet: they need a re-run."""
    lines = [
        f"{PROG}: {len(summary.failed)} unit(s) failed; running the same command again "
        "fetches them again:"
    ]
    lines += [f"  {f.key}: {one_line(f.cause)}" for f in summary.failed[:MAX_FAILURES_SHOWN]]
    if len(summary.failed) > MAX_FAILURES_SHOWN:
        lines.append(f"  ... and {len(summary.failed) - MAX_FAILURES_SHOWN} more")
    print("\n".join(lines), file=sys.stderr, flush=True)
