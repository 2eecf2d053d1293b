"""The 6.2 switches reach the fake through its options, the pytest fixture and the CLI."""

from __future__ import annotations

import argparse
from datetime import date, datetime, timezone

import aiohttp
import pytest

from tabnine_usage_async.cli._config import connect
from tabnine_usage_async.cli._parser import build_parser
from tabnine_usage_async.testing import FakeTabnine, add_fake_server_arguments, server


def test_server_options_parse_the_6_2_switches() -> None:
    """--server-version, --v1-cutover, --no-agent-license and --now parse into options."""
    parser = argparse.ArgumentParser()
    add_fake_server_arguments(parser)
    args = parser.parse_args(
        [
            "--server-version",
            "5.x",
            "--v1-cutover",
            "2025-11-01",
            "--no-agent-license",
            "--now",
            "2026-01-15T12:00:00Z",
        ]
    )
    assert args.version == "5.x" and args.v1_cutover == date(2025, 11, 1)
    assert args.no_agent_license is True
    assert args.now == datetime(2026, 1, 15, 12, tzinfo=timezone.utc)
    defaults = parser.parse_args([])
    assert (defaults.version, defaults.v1_cutover, defaults.now) == ("6.2", None, None)
    with pytest.raises(SystemExit):
        parser.parse_args(["--server-version", "6.1"])


@pytest.mark.fake_tabnine(users=10, teams=2, version="5.x", agent_license=False)
async def test_the_fixture_takes_the_version(fake_tabnine: FakeTabnine) -> None:
    """The fake_tabnine marker passes version: a 5.x fixture has no v2 usage."""
    params = {
        "organizationId": fake_tabnine.organization_id,
        "from": "2026-01-01T00:00:00Z",
        "to": "2026-01-02T00:00:00Z",
        "granularity": "all",
    }
    async with (
        aiohttp.ClientSession(headers=fake_tabnine.headers) as session,
        session.get(fake_tabnine.url("/api/v2/organization/usage"), params=params) as response,
    ):
        assert response.status == 404
    assert fake_tabnine.server.config.agent_license is False


@pytest.mark.parametrize(
    ("flags", "status"),
    [([], 200), (["--fake-version", "5.x"], 404), (["--fake-no-agent-license"], 403)],
)
async def test_the_cli_fake_follows_its_flags(
    flags: list[str], status: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tabnine-usage --fake with --fake-version/--fake-no-agent-license starts such a fake."""
    # The CLI's fake draws a random token; fix it so the test can call the fake directly.
    monkeypatch.setattr(server, "new_token", lambda: "fake-tabnine-cli-test")
    args = build_parser().parse_args(["--fake", "--quiet", "--fake-users", "8", *flags, "teams"])
    async with (
        connect(args) as client,
        aiohttp.ClientSession(headers={"Authorization": "Bearer fake-tabnine-cli-test"}) as session,
    ):
        async with session.get(f"{client.base_url}/api/v1/organization") as response:
            organization_id = (await response.json())["id"]
        params = {
            "organizationId": organization_id,
            "from": "2026-01-01T00:00:00Z",
            "to": "2026-01-02T00:00:00Z",
            "granularity": "all",
        }
        url = f"{client.base_url}/api/v1/organization/agent-usage"
        async with session.get(url, params=params) as response:
            assert response.status == status
