"""The destination benchmark's harness runs end to end on a tiny size (no timing is checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_destination_benchmark_prints_a_row_per_destination() -> None:
    """`python -m benchmarks.destinations` writes into each kind asked for and prints its row."""
    kinds = ["sqlite", "duckdb", "postgresql", "sink:jsonl"]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.destinations",
            "--rows",
            "62",
            "--only",
            ",".join(kinds),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    assert "Writing 62 usage rows" in out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "rows/s" not in line]
    assert [r.split("|")[1].strip() for r in rows] == [
        "sqlite",
        "duckdb",
        "postgresql",
        "backfill sink: jsonl",
    ]


def test_destination_benchmark_times_a_lookback_rewrite() -> None:
    """`--lookback` adds the second pass's wall time as a column of each row."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.destinations",
            "--rows",
            "62",
            "--only",
            "parquet,sqlite",
            "--lookback",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    assert "lookback s |" in out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "rows/s" not in line]
    assert [r.split("|")[1].strip() for r in rows] == ["parquet", "sqlite"]
    assert all(r.split("|")[7].strip() != "-" for r in rows)


def test_destination_benchmark_runs_daily_syncs() -> None:
    """`--daily N` prints, per destination, the syncs' time, the month's parts and read times."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.destinations",
            "--rows",
            "62",
            "--only",
            "parquet,parquet-no-compaction",
            "--daily",
            "20",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    rows = [line for line in out.splitlines() if line.startswith("| parquet")]
    parts = {r.split("|")[1].strip(): int(r.split("|")[5]) for r in rows}
    # Two users: every write replaces rows, so only the settled remainders are merged.
    assert parts["parquet-no-compaction"] > parts["parquet"] > 0
