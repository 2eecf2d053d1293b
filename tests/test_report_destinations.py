"""The report is the same whichever destination the dataset was synced into."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tabnine_usage_async.destinations import open_destination
from tabnine_usage_async.report import ReportOptions, load_report, report_to_json

from .report_support import SINCE, sync_fake

pytest.importorskip("pyarrow")
pytest.importorskip("duckdb")

OPTIONS = ReportOptions(inactive_days=(7, 30, 60))


def _report(target: Path) -> dict[str, Any]:
    """The report's JSON numbers, without when the sync finished (each sync is its own run)."""
    numbers = report_to_json(asyncio.run(load_report(open_destination(target), OPTIONS)))
    numbers["header"].pop("synced_at")
    return numbers


@pytest.fixture(scope="module")
def sqlite_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The report of the fake organization synced into SQLite."""
    path = tmp_path_factory.mktemp("sqlite") / "usage.sqlite"
    asyncio.run(sync_fake(path, users=24, teams=3, seed=21))
    return _report(path)


@pytest.mark.parametrize("target", ["usage-parquet", "usage.duckdb"])
def test_report_equals_the_sqlite_one(
    target: str, sqlite_report: dict[str, Any], tmp_path: Path
) -> None:
    """A Parquet folder or DuckDB file synced from the same fake gives the SQLite report."""
    path = tmp_path / target
    asyncio.run(sync_fake(path, users=24, teams=3, seed=21))
    numbers = _report(path)
    assert numbers["header"]["period_start"] == SINCE.isoformat()
    assert numbers["totals"]["code_completions"] > 0 and numbers["teams"]
    assert json.dumps(numbers, sort_keys=True) == json.dumps(sqlite_report, sort_keys=True)
