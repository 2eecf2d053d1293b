"""``report``: a synced dataset -> one offline HTML page (or the same numbers as JSON)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from ..destinations import open_destination
from ..report import ReportOptions, load_report, report_to_json
from ._errors import EXIT_OK, UsageError
from ._run import Run

__all__ = ["add_report_parser", "cmd_report", "parse_day", "parse_thresholds"]


def parse_day(text: str | None, option: str) -> date | None:
    """A ``YYYY-MM-DD`` option value; ``UsageError`` naming the option otherwise."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{option}: {text!r} is not a date (YYYY-MM-DD)") from None


def parse_thresholds(text: str) -> tuple[int, ...]:
    """``--inactive-days``: one number of days or several, comma-separated (``30,60,90``)."""
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(f"--inactive-days: {text!r} is not a list of whole numbers") from None
    if not values or min(values) < 1:
        raise UsageError(f"--inactive-days: {text!r} needs numbers of at least 1 day")
    return values


def add_report_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """Declare the ``report`` subcommand."""
    report = commands.add_parser(
        "report",
        parents=[common],
        help="build the adoption report of a synced dataset: one offline HTML page",
        description=(
            "Read a dataset that `sync` keeps current and write one self-contained HTML page "
            "(seats, adoption, teams, seats to reclaim, agent cost), or print the same numbers "
            "as JSON. Never calls the API."
        ),
    )
    report.add_argument(
        "--from", dest="source", required=True, metavar="DEST", help="the synced dataset"
    )
    report.add_argument(
        "--output", "-o", type=Path, default=None, help="the HTML file to write (html format)"
    )
    report.add_argument(
        "--format", choices=("html", "json"), default="html", help="html (default) or json"
    )
    report.add_argument("--since", default=None, help="first day, YYYY-MM-DD (default: the data's)")
    report.add_argument(
        "--until", default=None, help="end day, exclusive, YYYY-MM-DD (default: the data's)"
    )
    report.add_argument(
        "--inactive-days",
        default="30,60,90",
        metavar="N[,N...]",
        help="days without activity that make a seat reclaimable (default: 30,60,90)",
    )
    report.add_argument(
        "--exclude-weekends",
        action="store_true",
        help="leave Saturdays and Sundays out of per-day averages",
    )
    report.set_defaults(handler=cmd_report)


async def cmd_report(args: argparse.Namespace, run: Run) -> int:
    """``report``: compute the report and write the page, or print it as JSON."""
    if args.format == "html" and args.output is None:
        raise UsageError("report: --output is required for the html format")
    try:
        options = ReportOptions(
            since=parse_day(args.since, "--since"),
            until=parse_day(args.until, "--until"),
            inactive_days=parse_thresholds(args.inactive_days),
            exclude_weekends=args.exclude_weekends,
        )
    except ValueError as exc:
        raise UsageError(f"report: {exc}") from None
    if args.format == "html":
        # Fail before reading a large dataset when the charting library is missing.
        from ..report.html import javascript_bundle, render_html

        bundle = javascript_bundle()
    report = await load_report(open_destination(args.source), options)
    if args.format == "json":
        text = json.dumps(report_to_json(report), indent=2, ensure_ascii=False) + "\n"
        if args.output is None:
            sys.stdout.write(text)
        else:
            args.output.write_text(text, encoding="utf-8")
        return EXIT_OK
    page = render_html(report, bundle=bundle)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(page, encoding="utf-8")
    print(f"wrote {args.output} ({len(page.encode()) / 1e6:.1f} MB)", file=sys.stderr)
    return EXIT_OK
