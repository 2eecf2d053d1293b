"""Client construction: environment defaults and clear errors for bad knobs."""

from __future__ import annotations

from typing import Any

import pytest

from tabnine_usage_async import DEFAULT_BASE_URL, ConfigurationError, TabnineClient


def test_token_and_base_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """token and base_url default to TABNINE_API_TOKEN and TABNINE_BASE_URL."""
    monkeypatch.setenv("TABNINE_API_TOKEN", "env-token")
    monkeypatch.setenv("TABNINE_BASE_URL", "https://tabnine.corp.example/")
    client = TabnineClient()
    assert client.base_url == "https://tabnine.corp.example"
    assert "env-token" not in repr(client)


def test_default_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without TABNINE_BASE_URL the SaaS console is used."""
    monkeypatch.delenv("TABNINE_BASE_URL", raising=False)
    assert TabnineClient(token="t").base_url == DEFAULT_BASE_URL


def test_missing_token_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """No token anywhere raises ConfigurationError naming the environment variable."""
    monkeypatch.delenv("TABNINE_API_TOKEN", raising=False)
    with pytest.raises(ConfigurationError, match="TABNINE_API_TOKEN"):
        TabnineClient()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_concurrency": 0}, "max_concurrency must be an integer >= 1"),
        ({"max_concurrency": -3}, "max_concurrency"),
        ({"max_concurrency": 2.5}, "max_concurrency"),
        ({"max_concurrency": True}, "max_concurrency"),
        ({"rate_limit": 0}, "rate_limit must be a positive"),
        ({"rate_limit": -1.0}, "rate_limit"),
        ({"rate_limit": float("inf")}, "rate_limit"),
        ({"timeout": 0}, "timeout must be a positive"),
        ({"timeout": float("nan")}, "timeout"),
        ({"max_retries": -1}, "max_retries must be an integer >= 0"),
        ({"page_size": 0}, "page_size must be an integer >= 1"),
        ({"base_url": "http://tabnine.corp.example"}, "plain http"),
        ({"base_url": "https://console.tabnine.com/api"}, "no path"),
        ({"token": "abc\n"}, "control character"),
        ({"organization_id": ""}, "organization_id"),
        ({"adaptive_rate_limit": "false"}, "adaptive_rate_limit must be True or False"),
        ({"adaptive_rate_limit": 0}, "adaptive_rate_limit"),
    ],
)
def test_bad_knobs(kwargs: dict[str, Any], message: str) -> None:
    """Each bad knob raises a ConfigurationError (or a ValueError subclass) saying what is wrong."""
    options: dict[str, Any] = {"token": "t", **kwargs}
    with pytest.raises(ValueError, match=message):
        TabnineClient(**options)


def test_insecure_http_needs_opt_in() -> None:
    """Plain http to a non-loopback host works only with allow_insecure_http=True."""
    client = TabnineClient(
        token="t", base_url="http://tabnine.corp.example", allow_insecure_http=True
    )
    assert client.base_url == "http://tabnine.corp.example"
