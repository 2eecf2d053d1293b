"""Token files as people write them, and messages that speak of options, not library names."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from tabnine_usage_async.cli import main as cli_main
from tabnine_usage_async.cli._config import parse_token_file
from tabnine_usage_async.errors import ConfigurationError
from tabnine_usage_async.testing import serve_fake_tabnine

TOKEN = "tnt_5ecret/Token+value=="
LIBRARY_WORDS = ("base_url", "allow_insecure_http", "team_id", "user_id", "timedelta", "=True")


@pytest.mark.parametrize(
    ("text", "assignment"),
    [
        (f"{TOKEN}\n", False),
        (f"\ufeff{TOKEN}\r\n", False),
        (f"TABNINE_API_TOKEN={TOKEN}\n", True),
        (f"export TABNINE_API_TOKEN='{TOKEN}'\n", True),
        (
            f'# written by the installer\nTABNINE_BASE_URL=https://h\nTABNINE_API_TOKEN="{TOKEN}"\n',
            True,
        ),
        (f"TABNINE_API_TOKEN = {TOKEN}", True),
    ],
)
def test_parse_token_file(text: str, assignment: bool) -> None:
    """A bare token, a byte-order mark, and the assignment forms of shell and .env files."""
    assert parse_token_file(text) == (TOKEN, assignment)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("\ufeff\n", "empty"),
        (f"{TOKEN}\nsomething-else\n", "2 lines"),
        ("OTHER_TOKEN=abc\nMORE=1\n", "TABNINE_API_TOKEN"),
        ("TABNINE_API_TOKEN=\n", "empty"),
    ],
)
def test_parse_token_file_refuses(text: str, match: str) -> None:
    """Files that hold no single token are refused with a reason, never echoing their text."""
    with pytest.raises(ConfigurationError, match=match) as info:
        parse_token_file(text)
    assert "abc" not in str(info.value)
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize(
    "content",
    [
        "\ufeff{token}\n",
        "TABNINE_API_TOKEN={token}\n",
        'export TABNINE_API_TOKEN="{token}"\n',
    ],
)
async def test_cli_reads_token_files_with_bom_or_assignment(
    tmp_path: Path,
    content: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A token file saved with a BOM, or as an assignment, authenticates (with a hint)."""
    monkeypatch.delenv("TABNINE_API_TOKEN", raising=False)
    async with serve_fake_tabnine(teams=1, users=2, seed=1, token=TOKEN) as fake:
        token_file = tmp_path / "token"
        token_file.write_text(content.format(token=TOKEN), encoding="utf-8")
        argv = ["org", "--base-url", fake.base_url, "--token-file", str(token_file)]
        code = await anyio.to_thread.run_sync(cli_main, [*argv, "--format", "json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert json.loads(out.out)["id"]
    assert ("TABNINE_API_TOKEN=" in out.err) == ("TABNINE_API_TOKEN" in content)
    assert TOKEN not in out.err


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["org", "--base-url", "http://tabnine.example.com"], "--allow-insecure-http"),
        (["org", "--base-url", "https://tabnine.example.com/path"], "--base-url"),
        (["org", "--base-url", "https://me:pw@tabnine.example.com"], "--token-file"),
        (["users", "--team", "", "--fake", "-q"], "--team"),
        (
            [
                "usage",
                "--user",
                " ",
                "--start",
                "2026-01-01",
                "--end",
                "2026-01-02",
                "--fake",
                "-q",
            ],
            "--user",
        ),
        (
            [
                "usage",
                "--organization",
                "--start",
                "2026-01-05",
                "--end",
                "2026-01-02",
                "--fake",
                "-q",
            ],
            "--start",
        ),
        (
            [
                "usage",
                "--organization",
                "--start",
                "2026-01-01T00:00",
                "--end",
                "2026-01-02",
                "--fake",
                "-q",
            ],
            "--start",
        ),
        (["utilization", "--since", "2026-13", "--fake", "-q"], "--since"),
        (
            [
                "backfill",
                "--start",
                "2026-01-01",
                "--end",
                "2026-01-02",
                "-o",
                "{tmp}/x",
                "--window",
                "year",
                "--fake",
                "-q",
            ],
            "--window",
        ),
        (
            [
                "backfill",
                "--start",
                "2026-01-01",
                "--end",
                "2026-01-02",
                "-o",
                "{tmp}/x.txt",
                "--fake",
                "-q",
            ],
            "--format",
        ),
    ],
)
def test_cli_messages_name_options(
    argv: list[str],
    option: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bad value is reported in terms of the command-line option, not the library argument."""
    monkeypatch.setenv("TABNINE_API_TOKEN", "a-token-for-the-test")
    code = cli_main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert option in err
    for word in LIBRARY_WORDS:
        assert word not in err
