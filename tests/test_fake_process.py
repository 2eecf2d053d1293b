"""Running the fake server: separate process, command-line options and the pytest fixture."""

from __future__ import annotations

import argparse
import json
import urllib.request

import aiohttp
import pytest

from tabnine_usage_async.testing import (
    FakeTabnine,
    add_fake_server_arguments,
    fake_server_main,
    fake_tabnine_process,
    pytest_plugin,
)


def test_process_mode_serves_and_stops() -> None:
    """The child process announces its URL and token, serves the API, and is gone afterwards."""
    with fake_tabnine_process(users=12, teams=2, seed=4, rate_limit=500) as fake:
        assert fake.base_url.startswith("http://127.0.0.1:")
        request = urllib.request.Request(
            fake.base_url + "/api/v1/organization", headers=fake.headers
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            organization = json.load(reply)
        assert organization["id"]
        assert fake.stats()["requests_by_route"] == {"/api/v1/organization": 1}
        fake.reset_stats()
        assert fake.stats()["total_requests"] == 0
        process = fake.process
    assert process.poll() is not None


def test_command_line_options_parse_into_server_options() -> None:
    """The options a CLI subcommand adds parse with the documented defaults and flags."""
    parser = argparse.ArgumentParser()
    add_fake_server_arguments(parser)
    args = parser.parse_args(
        ["--port", "0", "--users", "30", "--fault-rate", "0.1", "--rate-limit", "50"]
    )
    assert (args.port, args.users, args.teams, args.seed) == (0, 30, 20, 7)
    assert (args.fault_rate, args.rate_limit, args.host) == (0.1, 50.0, "127.0.0.1")
    assert parser.parse_args([]).port == 8080


def test_unknown_fault_kinds_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown --fault-kinds entry exits with code 2 and a message, without serving."""
    parser = argparse.ArgumentParser()
    add_fake_server_arguments(parser)
    args = parser.parse_args(["--fault-rate", "0.5", "--fault-kinds", "503,teapot"])
    assert fake_server_main(args) == 2
    assert "teapot" in capsys.readouterr().err


@pytest.mark.fake_tabnine(users=7, teams=2, seed=13)
async def test_fixture_follows_the_marker(fake_tabnine: FakeTabnine) -> None:
    """The fake_tabnine fixture builds the organization that the marker asks for."""
    assert len(fake_tabnine.dataset.users) == 7
    assert fake_tabnine.dataset.seed == 13
    async with (
        aiohttp.ClientSession(headers=fake_tabnine.headers) as session,
        session.get(fake_tabnine.url("/api/v1/organization/teams")) as response,
    ):
        assert (await response.json())["meta"]["total"] == 2


@pytest.mark.parametrize("fake_tabnine", [{"users": 3}, {"users": 9}], indirect=True)
async def test_fixture_accepts_indirect_parameters(fake_tabnine: FakeTabnine) -> None:
    """Indirect parametrization passes options to the fixture."""
    assert len(fake_tabnine.dataset.users) in (3, 9)


def test_plugin_registers_its_marker(pytestconfig: pytest.Config) -> None:
    """The fake_tabnine marker is registered, so --strict-markers accepts it."""
    markers = pytestconfig.getini("markers")
    assert any(str(line).startswith("fake_tabnine(") for line in markers)


def test_missing_pytest_asyncio_gives_a_clear_message() -> None:
    """Without pytest-asyncio the stand-in fixture fails with an explanation."""
    with pytest.raises(pytest.fail.Exception, match="pytest-asyncio"):
        pytest_plugin._missing_pytest_asyncio(None)  # type: ignore[arg-type]
