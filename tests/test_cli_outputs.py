"""Outputs that must never lose data: overlapping paths, locks, links, special files, a full disk,
future periods, interrupted Parquet joins and dates at the end of the calendar.

Each test runs the real program (in-process or in a fresh interpreter) against a fake server on
127.0.0.1 and checks what ends up on disk and on stderr.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tabnine_usage_async.cli import main

from .test_cli import UNUSED_URL, error_lines

# -- dates at the end of the calendar --------------------------------------------------------------

FAR_DATES = {
    "month window into year 10000": ["--start", "9999-12-01", "--end", "9999-12-31"],
    "week window into year 10000": [
        "--start",
        "9999-12-25",
        "--end",
        "9999-12-31",
        "--window",
        "week",
    ],
    "offset past the last day": ["--start", "9999-12-30", "--end", "9999-12-31T23:00:00-02:00"],
}


@pytest.mark.parametrize("name", FAR_DATES)
def test_dates_near_year_9999_exit_2_with_one_line(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A range reaching the end of the calendar is refused with one line and exit 2."""
    monkeypatch.setenv("TABNINE_API_TOKEN", "t0ken")
    argv = ["backfill", *FAR_DATES[name], "-o", str(tmp_path / "u.jsonl")]
    assert main([*argv, "--base-url", UNUSED_URL]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith("tabnine-usage: error: "), lines
    assert "9999" in lines[0]


def test_usage_near_year_9999_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The usage command refuses the last days of the calendar before any request."""
    monkeypatch.setenv("TABNINE_API_TOKEN", "t0ken")
    argv = ["usage", "--organization", "--start", "9999-12-30", "--end", "9999-12-31"]
    assert main([*argv, "--granularity", "monthly", "--base-url", UNUSED_URL]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "9999" in lines[0], lines
