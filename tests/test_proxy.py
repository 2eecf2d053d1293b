"""Forward proxies, for real on 127.0.0.1: from the environment, or given; http and CONNECT."""

from __future__ import annotations

import ssl

import anyio
import pytest
import trustme

from tabnine_usage_async import ConfigurationError, TabnineClient, TabnineError
from tabnine_usage_async._network import bypasses_proxy, choose_proxy
from tabnine_usage_async.cli import main as cli_main
from tabnine_usage_async.testing import serve_fake_tabnine

from .conftest import FAST_RETRIES, TOKEN
from .netsupport import forward_proxy, tls_server

PROXY_ENV = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")
PASSWORD = "pr0xy-pa55w0rd"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_ENV:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


async def test_https_proxy_from_environment_tunnels_with_connect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTPS_PROXY is honoured by default: an https server is reached through a CONNECT tunnel."""
    ca = trustme.CA()
    async with tls_server(ca) as base_url, forward_proxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url())
        context = ssl.create_default_context()
        ca.configure_trust(context)
        async with TabnineClient(token=TOKEN, base_url=base_url, ssl_context=context) as client:
            org = await client.get_organization()
    assert org.name == "Yagel"
    assert proxy.seen == [f"CONNECT {base_url.removeprefix('https://')}"]


async def test_http_proxy_from_environment_forwards_absolute_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTP_PROXY is honoured for http URLs: the proxy receives the absolute request."""
    async with serve_fake_tabnine(teams=1, users=2, seed=1, token=TOKEN) as fake:
        async with forward_proxy() as proxy:
            monkeypatch.setenv("HTTP_PROXY", proxy.url())
            async with TabnineClient(token=TOKEN, base_url=fake.base_url) as client:
                org = await client.get_organization()
    assert org.id
    assert proxy.seen == [f"GET {fake.base_url}/api/v1/organization"]


async def test_no_proxy_and_trust_env_false_go_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    """NO_PROXY naming the host, or trust_env=False, bypasses the environment's proxy."""
    async with serve_fake_tabnine(teams=1, users=2, seed=1, token=TOKEN) as fake:
        async with forward_proxy() as proxy:
            monkeypatch.setenv("HTTP_PROXY", proxy.url())
            async with TabnineClient(token=TOKEN, base_url=fake.base_url, trust_env=False) as c:
                await c.get_organization()
            monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
            async with TabnineClient(token=TOKEN, base_url=fake.base_url) as client:
                await client.get_organization()
    assert proxy.seen == []


async def test_explicit_proxy_with_credentials_never_shows_them(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """proxy= with user:password authenticates; a wrong password fails without showing it."""
    async with serve_fake_tabnine(teams=1, users=2, seed=1, token=TOKEN) as fake:
        async with forward_proxy(credentials=("me", PASSWORD)) as proxy:
            good = proxy.url(userinfo=f"me:{PASSWORD}")
            async with TabnineClient(token=TOKEN, base_url=fake.base_url, proxy=good) as client:
                org = await client.get_organization()
                shown = [repr(client)]
            bad = proxy.url(userinfo=f"me:{PASSWORD}-wrong")
            async with TabnineClient(
                token=TOKEN, base_url=fake.base_url, proxy=bad, retry_policy=FAST_RETRIES
            ) as client:
                with pytest.raises(TabnineError) as info:
                    await client.get_organization()
            shown += [str(info.value), repr(info.value)]
            monkeypatch.setenv("TABNINE_API_TOKEN", TOKEN)
            code = await anyio.to_thread.run_sync(
                cli_main, ["org", "--base-url", fake.base_url, "--proxy", good, "-vv"]
            )
    assert org.id
    assert code == 0
    assert len(proxy.seen) >= 3
    out = capsys.readouterr()
    for text in [*shown, out.out, out.err]:
        assert PASSWORD not in text


@pytest.mark.parametrize(
    "bad", ["socks5://127.0.0.1:1080", "127.0.0.1:3128", "http://:3128", "http://h:99999", ""]
)
def test_bad_proxy_url_is_refused_without_echo(bad: str) -> None:
    """A proxy URL that cannot work is a ConfigurationError that does not repeat the URL."""
    with pytest.raises(ConfigurationError) as info:
        TabnineClient(token=TOKEN, proxy=bad)
    assert bad == "" or bad not in str(info.value)


@pytest.mark.parametrize(
    ("env", "url", "expected"),
    [
        ({"HTTPS_PROXY": "http://p:1"}, "https://h.corp", "http://p:1"),
        (
            {"https_proxy": "http://low:1", "HTTPS_PROXY": "http://up:1"},
            "https://h",
            "http://low:1",
        ),
        ({"HTTPS_PROXY": "http://p:1"}, "http://h", None),
        ({"HTTP_PROXY": "http://p:1"}, "http://h", "http://p:1"),
        ({"HTTP_PROXY": "http://p:1", "REQUEST_METHOD": "GET"}, "http://h", None),
        ({"ALL_PROXY": "http://p:1"}, "https://h", "http://p:1"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, "https://h", None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".corp"}, "https://h.corp", None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "corp"}, "https://a.h.corp", None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "xcorp"}, "https://h.corp", "http://p:1"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "h:8443"}, "https://h:8443", None),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "h:8443"}, "https://h", "http://p:1"),
        ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.0.0.0/8"}, "https://10.1.2.3", None),
        ({}, "https://h", None),
    ],
)
def test_choose_proxy(env: dict[str, str], url: str, expected: str | None) -> None:
    """The environment's proxy follows curl's rules: scheme, lowercase first, NO_PROXY."""
    assert choose_proxy(url, env) == expected


def test_bypasses_proxy_ipv6() -> None:
    """NO_PROXY entries in brackets match IPv6 hosts."""
    assert bypasses_proxy("::1", None, "[::1]")
