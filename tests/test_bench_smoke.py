"""The benchmark harness still runs end to end (tiny sizes; no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.scenarios import OVERHEAD_ROWS

ROOT = Path(__file__).resolve().parent.parent


def test_smoke_run_prints_every_table_and_writes_every_run(tmp_path: Path) -> None:
    """`python -m benchmarks --smoke` prints each scenario's table and a JSON of every run."""
    results = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--quiet", "--results-dir", str(results)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for heading in (
        "## 1. Client overhead",
        "## 2. Latency-bound walk",
        "## 3. Memory",
        "## 4. Rate limit adherence",
        "## 5. 429 storm",
        "## 6. Scale",
        "## 7. Dataset sync",
        "## Targets",
        "Machine: ",
    ):
        assert heading in done.stdout
    for contender in ("tabnine-usage-async", "aiohttp loop (floor)", "httpx loop", "sequential"):
        assert contender in done.stdout
    (written,) = results.glob("*-smoke.json")
    document = json.loads(written.read_text(encoding="utf-8"))
    assert document["mode"] == "smoke"
    assert {"cpu", "cores", "python", "versions"} <= set(document["machine"])
    seen = {(run["scenario"], run["contender"]) for run in document["runs"]}
    assert seen == {
        ("overhead", "ours"),
        ("overhead", "aiohttp"),
        ("overhead", "httpx"),
        ("walk", "ours"),
        ("walk", "aiohttp"),
        ("walk", "httpx"),
        ("walk", "sequential"),
        ("memory", "ours"),
        ("rate", "ours"),
        ("storm", "ours"),
        ("storm", "aiohttp"),
        ("storm", "httpx"),
        ("scale", "ours"),
        ("sync", "ours"),
    }
    overhead = [run for run in document["runs"] if run["scenario"] == "overhead"]
    assert {run["row"] for run in overhead} == {row.key for row in OVERHEAD_ROWS}
    for run in overhead:
        row = next(r for r in OVERHEAD_ROWS if r.key == run["row"])
        assert run["result"]["speed_parser"] is row.speed  # the extra hidden, or used
        assert run["result"]["loop"] == row.loop
    assert {run["kind"] for run in document["runs"] if run["scenario"] == "scale"} == {
        "scale-list",
        "memory",
        "dry-run",
    }
    for run in document["runs"]:
        assert run["result"]["failed"] == 0
        assert run["result"]["ok"] > 0
        assert run["server"]["total_requests"] > 0


def test_unknown_scenario_is_refused() -> None:
    """An unknown name in --only exits with status 2 before running anything."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--only", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "unknown scenario" in done.stderr
