"""Benchmark: build the adoption report from a year of daily data for 10,000 users.

``python -m benchmarks.report_build [--users N] [--days N] [--format F] [--dataset PATH]`` writes
a synthetic synced dataset (a SQLite file, or with ``--format parquet`` a Parquet folder, through
the destination protocol, as a sync writes it) unless it exists, then builds the report (read +
compute + HTML) in a fresh child process and prints its wall time and peak RSS as a Markdown row.
The dataset is kept for reruns.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tabnine_usage_async.destinations import UnitWrite, open_destination
from tabnine_usage_async.destinations._values import format_timestamp
from tabnine_usage_async.streams import get_stream

_STREAMS = ("usage", "agent_usage", "users", "teams", "seats")


_FIRST = date(2025, 1, 1)
_DAY = timedelta(days=1)


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


_USAGE_COLUMNS = (
    "scope",
    "entity_id",
    "organization_id",
    "user_id",
    "team_ids",
    "granularity",
    "period_start",
    "period_end",
    "complete",
    "fetched_at",
    "active_users",
    "code_completions",
    "chat_messages",
    "agent_messages",
)
_AGENT_COLUMNS = (
    "scope",
    "entity_id",
    "organization_id",
    "user_id",
    "team_ids",
    "granularity",
    "period_start",
    "period_end",
    "complete",
    "fetched_at",
    "total_tokens",
    "total_cost",
)


def _insert(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _rows(
    users: int, days: int, seed: int, fetched: str
) -> tuple[Iterator[tuple[Any, ...]], Iterator[tuple[Any, ...]]]:
    """The usage and agent rows, as the SQLite destination stores them, day by day.

    Both iterators draw from one generator: the usage rows must be consumed first (the agent
    rows of a day are collected while its usage rows are produced).
    """
    rng = random.Random(seed)
    level = [rng.random() for _ in range(users)]
    ids = [f"user-{i}" for i in range(users)]
    agent: list[tuple[Any, ...]] = []

    def usage() -> Iterator[tuple[Any, ...]]:
        for d in range(days):
            day = _FIRST + timedelta(days=d)
            start, end = format_timestamp(_at(day)), format_timestamp(_at(day + _DAY))
            share = 0.3 if day.weekday() >= 5 else 0.9
            head = ("[]", "daily", start, end, 1, fetched)
            totals = [0, 0, 0, 0]
            for i, user in enumerate(ids):
                active = rng.random() < level[i] * share
                c = rng.randint(5, 80) if active else 0
                ch = rng.randint(0, 8) if active else 0
                ag = rng.randint(0, 10) if active and level[i] > 0.7 else 0
                totals[0] += active
                totals[1] += c
                totals[2] += ch
                totals[3] += ag
                yield ("user", user, "org", user, *head, int(active), c, ch, ag)
                if ag:
                    agent.append(("user", user, "org", user, *head, ag * 9000, ag * 0.05))
            yield ("organization", "org", "org", None, *head, *totals)

    return usage(), iter(agent)


async def generate(path: Path, users: int, days: int, seed: int = 1) -> None:
    """Write ``users`` users' daily usage over ``days`` days (a row per user and day).

    The tables, snapshots, unit states and ledger go through the destination protocol, as a sync
    writes them; the millions of usage rows are then inserted in one transaction with prepared
    tuples (the protocol's per-row checks would make a 10,000-user year take tens of minutes).
    """
    fetched = _at(_FIRST + timedelta(days=days + 1))
    dest = open_destination(path)
    await dest.open([get_stream(s).table for s in _STREAMS])
    try:
        run = await dest.begin_run(started_at=fetched, api_version="v2", job={"bench": True})
        teams = [f"team-{i}" for i in range(max(1, users // 100))]
        roster = [
            {
                "user_id": f"user-{i}",
                "email": f"user{i}@example.com",
                "role": "Member",
                "verified": True,
                "fetched_at": fetched,
                "team_ids": [teams[i % len(teams)]],
            }
            for i in range(users)
        ]
        team_rows = [{"team_id": t, "name": t.title(), "fetched_at": fetched} for t in teams]
        writes = [
            UnitWrite("users", "users", {}, None, roster, True, fetched),
            UnitWrite("teams", "teams", {}, None, team_rows, True, fetched),
        ]
        for d in range(days):
            day = _FIRST + timedelta(days=d)
            period = (_at(day), _at(day + _DAY))
            for stream in ("usage", "agent_usage"):
                writes.append(UnitWrite(stream, f"day:{day}", {}, period, [], True, fetched))
        await dest.write(run, writes)
        await dest.set_meta("organization_name", "Benchmark Org")
        await dest.set_meta("license_seats", str(users + users // 10))
        await dest.finish_run(run, status="succeeded", finished_at=fetched, summary={})
    finally:
        await dest.close()
    usage, agent = _rows(users, days, seed, format_timestamp(fetched))
    if path.suffix == "":
        _write_parquet(path, usage, agent)
        # Opening with the lock indexes the part files just written.
        await _reopen(open_destination(path))
        return
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        conn.executemany(_insert("usage", _USAGE_COLUMNS), usage)
        conn.executemany(_insert("agent_usage", _AGENT_COLUMNS), agent)
        conn.execute("COMMIT")
    finally:
        conn.close()


def _write_parquet(
    folder: Path, usage: Iterator[tuple[Any, ...]], agent: Iterator[tuple[Any, ...]]
) -> None:
    """Write the rows as one part file per month, then index them as the destination does.

    The files hold every column of the stream (those the generator leaves out are null), as a
    sync writes them; the destination indexes part files it does not know on its next open.
    """
    import pyarrow
    import pyarrow.parquet

    from tabnine_usage_async.destinations._parquet import arrow_schema
    from tabnine_usage_async.destinations._values import parse_timestamp

    decoded: dict[Any, Any] = {}

    def decode(column: str, value: Any) -> Any:
        if column in ("period_start", "period_end", "fetched_at"):
            if value not in decoded:
                decoded[value] = parse_timestamp(value)
            return decoded[value]
        if column == "team_ids":
            return json.loads(value)
        return bool(value) if column == "complete" else value

    def write(stream: str, columns: tuple[str, ...], rows: Iterator[tuple[Any, ...]]) -> None:
        table = get_stream(stream).table
        schema = arrow_schema(table)
        month: str | None = None
        held: list[tuple[Any, ...]] = []

        def flush() -> None:
            if not held:
                return
            values = {c: [decode(c, r[i]) for r in held] for i, c in enumerate(columns)}
            arrays = [
                pyarrow.array(values[f.name], type=f.type)
                if f.name in values
                else pyarrow.nulls(len(held), f.type)
                for f in schema
            ]
            target = folder / stream / f"month={month}" / "part-0.parquet"
            target.parent.mkdir(parents=True, exist_ok=True)
            pyarrow.parquet.write_table(pyarrow.Table.from_arrays(arrays, schema=schema), target)
            held.clear()

        for row in rows:
            row_month = row[columns.index("period_start")][:7]
            if row_month != month:
                flush()
                month = row_month
            held.append(row)
        flush()

    write("usage", _USAGE_COLUMNS, usage)
    write("agent_usage", _AGENT_COLUMNS, agent)


async def _reopen(dest: Any) -> None:
    await dest.open([get_stream(s).table for s in _STREAMS])
    await dest.close()


def measure(path: Path) -> dict[str, Any]:
    """Build the report once in this process: wall time and peak RSS."""
    from tabnine_usage_async.report import load_report
    from tabnine_usage_async.report.html import render_html

    began = time.perf_counter()
    report = asyncio.run(load_report(open_destination(path)))
    computed = time.perf_counter()
    page = render_html(report)
    done = time.perf_counter()
    return {
        "read_and_compute_s": round(computed - began, 2),
        "render_s": round(done - computed, 2),
        "total_s": round(done - began, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "html_mb": round(len(page.encode()) / 1e6, 2),
        "users_in_report": report.seats.registered,
    }


def main() -> None:
    """Generate the dataset if needed, then measure in a child process and print a row."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--format", choices=("sqlite", "parquet"), default="sqlite")
    parser.add_argument("--dataset", type=Path, default=None, help="a *.sqlite file or a folder")
    parser.add_argument("--measure", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(measure(args.measure)))
        return
    suffix = ".sqlite" if args.format == "sqlite" else ""
    path = args.dataset or Path(f"benchmarks/results/report-{args.users}x{args.days}{suffix}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        began = time.perf_counter()
        asyncio.run(generate(path, args.users, args.days))
        print(f"generated {path} in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.report_build", "--measure", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(out.stdout)
    print(
        "| users | days | read + compute (s) | render (s) | total (s) | peak RSS (MB) | page (MB) |"
    )
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {args.users:,} | {args.days} | {result['read_and_compute_s']} | "
        f"{result['render_s']} | {result['total_s']} | {result['peak_rss_mb']} | "
        f"{result['html_mb']} |"
    )


if __name__ == "__main__":
    main()
