"""The report as a person sees it: opened in headless Chromium with the network blocked."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tabnine_usage_async.destinations import open_destination
from tabnine_usage_async.report import load_report
from tabnine_usage_async.report.html import render_html

from .browser_support import open_report
from .report_support import sync_fake


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report page written from a freshly synced fake organization."""
    folder = tmp_path_factory.mktemp("page")
    dataset = folder / "usage.sqlite"
    asyncio.run(sync_fake(dataset, users=60, teams=5))
    report = asyncio.run(load_report(open_destination(dataset)))
    path = folder / "report.html"
    path.write_text(render_html(report), encoding="utf-8")
    return path


@pytest.mark.parametrize("width", [1280, 390])
def test_page_renders_every_chart_offline(page_file: Path, tmp_path: Path, width: int) -> None:
    """No request leaves the page, no console error, every chart draws marks, no sideways
    scrolling; a full-page screenshot is kept under the test's folder."""
    with open_report(page_file, width) as (page, visit):
        shot = tmp_path / f"report-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        page_width = page.evaluate("document.documentElement.scrollWidth")
    assert visit.blocked == []
    assert visit.console_errors == []
    assert visit.page_errors == []
    assert len(visit.marks) >= 6, visit.marks
    assert all(count > 0 for count in visit.marks.values()), visit.marks
    assert page_width <= width
    assert shot.stat().st_size > 50_000


def test_tables_sort_and_download_as_csv(page_file: Path, tmp_path: Path) -> None:
    """A header click sorts the teams table; its CSV download holds every row, without network."""
    with open_report(page_file, 1280) as (page, visit):
        header = page.locator("#table-teams th", has_text="Members")
        header.click()
        header.click()
        members = [
            int(v)
            for v in page.eval_on_selector_all(
                "#table-teams tbody tr td:nth-child(2)", "cells => cells.map(c => c.dataset.v)"
            )
        ]
        rows = page.locator("#table-teams tbody tr").count()
        with page.expect_download() as info:
            page.locator("button.csv[data-table=table-teams]").click()
        target = tmp_path / "teams.csv"
        info.value.save_as(target)
    assert members == sorted(members, reverse=True)
    lines = target.read_text(encoding="utf-8").strip().splitlines()
    assert lines[0].startswith("Team,Members,Active in period")
    assert len(lines) == rows + 1
    assert visit.blocked == []
