"""``tabnine-usage report``: the page, the same numbers as JSON, and readable refusals."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tabnine_usage_async.cli import main
from tabnine_usage_async.destinations import open_destination
from tabnine_usage_async.report import ReportOptions, load_report, report_to_json

from .report_support import sync_fake


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synced fake organization."""
    path = tmp_path_factory.mktemp("cli") / "usage.sqlite"
    asyncio.run(sync_fake(path, users=25, teams=3, seed=11))
    return path


def test_json_prints_the_reports_numbers(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--format json`` prints exactly the numbers the library computes for the same options."""
    code = main(["report", "--from", str(dataset), "--format", "json", "--inactive-days", "14,45"])
    out = capsys.readouterr().out
    assert code == 0
    printed = json.loads(out)
    options = ReportOptions(inactive_days=(14, 45))
    expected = report_to_json(asyncio.run(load_report(open_destination(dataset), options)))
    assert printed == json.loads(json.dumps(expected))
    assert printed["inactive_thresholds"] == [14, 45]
    assert printed["seats"]["registered"] > 0


def test_html_page_is_written_self_contained(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The page is one file that names no host to load from and is about a megabyte."""
    target = tmp_path / "out" / "report.html"
    assert main(["report", "--from", str(dataset), "--output", str(target)]) == 0
    page = target.read_text(encoding="utf-8")
    assert "report.html" in capsys.readouterr().err
    assert page.startswith("<!DOCTYPE html>")
    assert "<script src" not in page and "<link" not in page
    assert 500_000 < len(page.encode()) < 2_000_000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--format", "json", "--since", "2026-02-30"], "--since"),
        (["--format", "json", "--inactive-days", "0"], "--inactive-days"),
        (["--format", "json", "--inactive-days", "ten"], "--inactive-days"),
        (["--format", "json", "--since", "2026-01-10", "--until", "2026-01-01"], "empty period"),
        (["--format", "html"], "--output"),
    ],
)
def test_bad_options_get_one_line(
    dataset: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """Bad options end with one readable line and a non-zero exit code, no traceback."""
    code = main(["report", "--from", str(dataset), *argv])
    err = capsys.readouterr().err
    assert code != 0
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_missing_dataset_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A path without a dataset is one error line, exit 1."""
    code = main(["report", "--from", str(tmp_path / "none.sqlite"), "--format", "json"])
    assert code == 1
    assert "no dataset" in capsys.readouterr().err
