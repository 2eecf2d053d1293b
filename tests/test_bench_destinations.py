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
