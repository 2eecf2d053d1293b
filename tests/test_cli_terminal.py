"""Server strings never drive the terminal: control characters are shown, not obeyed."""

from __future__ import annotations

import csv
import io
import sys

import anyio
import pytest

from tabnine_usage_async.cli import main as cli_main
from tabnine_usage_async.cli._output import Table, emit

from .conftest import TOKEN, Recorder

# Retitle the window, clear the screen, ring the bell, and flip the text direction.
EVIL = "QA\x1b]0;pwned\x07\x1b[2J\x9b31m\u202etxt.exe\x00"
TEAMS_PATH = "/api/v1/organization/teams"


def _assert_harmless(text: str) -> None:
    for bad in ("\x1b]0;", "\x1b[2J", "\x07", "\x9b", "\u202e", "\x00"):
        assert bad not in text


@pytest.fixture
def evil_teams(recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder.always(TEAMS_PATH, {"data": [{"id": "t-1", "name": EVIL}], "meta": {"next": None}})
    monkeypatch.setenv("TABNINE_API_TOKEN", TOKEN)
    return recorder


async def test_table_output_neutralises_control_characters(
    evil_teams: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    """`teams` as a plain table shows escape sequences as visible text."""
    code = await anyio.to_thread.run_sync(cli_main, ["teams", "--base-url", evil_teams.base_url])
    out = capsys.readouterr().out
    assert code == 0
    _assert_harmless(out)
    assert "QA\\x1b]0;pwned" in out


async def test_data_formats_keep_the_exact_value(
    evil_teams: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    """CSV keeps the server's exact string: data files are not altered."""
    code = await anyio.to_thread.run_sync(
        cli_main, ["teams", "--base-url", evil_teams.base_url, "--format", "csv"]
    )
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert code == 0
    assert rows[0]["name"] == EVIL


def test_rich_table_neutralises_control_characters_and_markup(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal (rich), escape sequences are shown and [markup] is printed as typed."""
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setenv("TERM", "dumb")
    emit(Table(("id", "name"), [{"id": "t-1", "name": EVIL + "[red]x[/red]"}]), "table")
    emit(Table(("name",), [{"name": EVIL}], single=True), "table")
    out = capsys.readouterr().out
    _assert_harmless(out)
    assert "[red]x[/red]" in out


async def test_error_line_neutralises_control_characters(
    recorder: Recorder, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server error message with escape sequences reaches stderr harmless, on one line."""
    recorder.json("/api/v1/team/t-1/users", {"error": {"message": f"denied {EVIL}"}}, status=403)
    monkeypatch.setenv("TABNINE_API_TOKEN", TOKEN)
    code = await anyio.to_thread.run_sync(
        cli_main, ["users", "--team", "t-1", "--base-url", recorder.base_url]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1
    _assert_harmless(err)
