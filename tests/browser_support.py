"""Open a report in Debian's headless Chromium, with every request but the file's own refused.

The suite never downloads a browser: it drives the system's ``chromium`` (``make test`` installs
it) through Playwright. A missing browser fails the tests loudly instead of skipping them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

#: The system browser; ``CHROMIUM`` overrides it.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)

#: The marks Vega draws in SVG: one element per line, bar, point or area.
MARK_SELECTOR = (
    "g.mark-line path, g.mark-rect path, g.mark-symbol path, g.mark-area path, g.mark-rule line"
)


def chromium_path() -> str:
    """The Chromium executable; ``AssertionError`` with the fix when it is missing."""
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(found).exists(), (
        f"no Chromium at {found}: run `make browser` (apt-get install chromium) first"
    )
    return found


@attrs.define
class PageVisit:
    """What happened while the page was open."""

    blocked: list[str] = attrs.field(factory=list)
    console_errors: list[str] = attrs.field(factory=list)
    page_errors: list[str] = attrs.field(factory=list)
    marks: dict[str, int] = attrs.field(factory=dict)


@contextmanager
def open_report(path: Path, width: int, height: int = 900) -> Iterator[tuple[Any, PageVisit]]:
    """Open ``path`` at ``width`` CSS pixels; yield the page (charts rendered) and the visit."""
    from playwright.sync_api import sync_playwright

    visit = PageVisit()
    url = path.resolve().as_uri()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=list(CHROMIUM_ARGS))
        try:
            context = browser.new_context(
                viewport={"width": width, "height": height}, accept_downloads=True
            )

            def route(r: Any) -> None:
                if r.request.url == url:
                    r.continue_()
                else:
                    visit.blocked.append(r.request.url)
                    r.abort()

            context.route("**/*", route)
            page = context.new_page()
            page.on(
                "console",
                lambda m: visit.console_errors.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: visit.page_errors.append(str(e)))
            page.goto(url)
            page.wait_for_selector("body[data-charts=ready]", timeout=60_000)
            for chart in page.query_selector_all("div.chart"):
                visit.marks[chart.get_attribute("id") or "?"] = len(
                    chart.query_selector_all(MARK_SELECTOR)
                )
            yield page, visit
        finally:
            browser.close()


def _screenshot(html: Path, png: Path, width: int = 1280, height: int = 2200) -> None:
    """Save the top ``height`` pixels of the page at ``width`` (the README's picture)."""
    png.parent.mkdir(parents=True, exist_ok=True)
    with open_report(html, width, height) as (page, visit):
        assert not (visit.blocked or visit.console_errors or visit.page_errors), visit
        page.screenshot(path=str(png), full_page=False)


if __name__ == "__main__":
    import sys

    _screenshot(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"wrote {sys.argv[2]}")
