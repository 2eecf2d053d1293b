"""TLS to private installations: internal CAs, mutual TLS, and certificate errors that fail fast.

Every test talks to a real HTTPS server on 127.0.0.1 whose certificate comes from a CA generated
for the test (trustme).
"""

from __future__ import annotations

import os
import ssl
import sys
from pathlib import Path

import anyio
import pytest
import trustme

from tabnine_usage_async import CertificateError, ConfigurationError, TabnineClient, TabnineError
from tabnine_usage_async.cli import main as cli_main

from .conftest import FAST_RETRIES, TOKEN
from .netsupport import tls_server

CA_ENV = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@pytest.fixture
def ca() -> trustme.CA:
    """A certificate authority no system trusts."""
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    """The CA's certificate as a PEM file."""
    path = tmp_path / "internal-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(autouse=True)
def _no_ca_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CA_ENV:
        monkeypatch.delenv(name, raising=False)


async def test_untrusted_certificate_fails_at_once_typed(ca: trustme.CA) -> None:
    """A certificate from an unknown CA raises CertificateError after one attempt, no retries."""
    async with tls_server(ca) as base_url:
        async with TabnineClient(
            token=TOKEN, base_url=base_url, retry_policy=FAST_RETRIES
        ) as client:
            with pytest.raises(CertificateError) as info:
                await client.get_organization()
            assert client.stats.requests == 1
            assert client.stats.retries == 0
    message = str(info.value)
    assert "127.0.0.1" in message
    assert "ca_bundle" in message
    assert "\n" not in message


@pytest.mark.parametrize("form", ["file", "folder"])
async def test_ca_bundle_file_or_folder_is_trusted(
    ca: trustme.CA, ca_file: Path, tmp_path: Path, form: str
) -> None:
    """ca_bundle= takes a PEM file or a folder of them, and the server is then trusted."""
    if form == "folder":
        folder = tmp_path / "certs"
        folder.mkdir()
        ca_file.rename(folder / "corp.crt")
        bundle = folder
    else:
        bundle = ca_file
    async with tls_server(ca) as base_url:
        async with TabnineClient(token=TOKEN, base_url=base_url, ca_bundle=bundle) as client:
            org = await client.get_organization()
    assert org.name == "Yagel"


async def test_requests_ca_bundle_is_honoured(
    ca: trustme.CA, ca_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """REQUESTS_CA_BUNDLE, which many enterprise machines set, is used like ca_bundle."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))
    async with tls_server(ca) as base_url:
        async with TabnineClient(token=TOKEN, base_url=base_url) as client:
            org = await client.get_organization()
        async with TabnineClient(
            token=TOKEN, base_url=base_url, trust_env=False, retry_policy=FAST_RETRIES
        ) as client:
            with pytest.raises(CertificateError):
                await client.get_organization()
    assert org.id == "org-1"


async def test_ssl_context_is_used_as_given(ca: trustme.CA) -> None:
    """A full ssl_context= replaces every other TLS setting."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    async with tls_server(ca) as base_url:
        async with TabnineClient(token=TOKEN, base_url=base_url, ssl_context=context) as client:
            assert (await client.get_organization()).name == "Yagel"


async def test_client_certificate_for_mutual_tls(
    ca: trustme.CA, ca_file: Path, tmp_path: Path
) -> None:
    """A server that demands a client certificate accepts client_cert/client_key, not nothing."""
    issued = ca.issue_cert("reporting@example.org")
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    async with tls_server(ca, require_client_cert=True) as base_url:
        async with TabnineClient(
            token=TOKEN, base_url=base_url, ca_bundle=ca_file, retry_policy=FAST_RETRIES
        ) as client:
            with pytest.raises(TabnineError):
                await client.get_organization()
        async with TabnineClient(
            token=TOKEN, base_url=base_url, ca_bundle=ca_file, client_cert=cert, client_key=key
        ) as client:
            assert (await client.get_organization()).name == "Yagel"


def test_bad_tls_settings_are_configuration_errors(ca_file: Path, tmp_path: Path) -> None:
    """Missing or unreadable files and contradictory settings are refused when built."""
    base = "https://tabnine.example.com"
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    cases: list[dict[str, object]] = [
        {"ca_bundle": tmp_path / "missing.pem"},
        {"ca_bundle": not_pem},
        {"client_cert": tmp_path / "missing.pem"},
        {"client_key": ca_file},
        {"ssl_context": ssl.create_default_context(), "ca_bundle": ca_file},
        {"ssl_context": "yes"},
    ]
    for options in cases:
        with pytest.raises(ConfigurationError):
            TabnineClient(token=TOKEN, base_url=base, **options)  # type: ignore[arg-type]


async def test_cli_certificate_error_names_the_option(
    ca: trustme.CA,
    ca_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On the command line an untrusted server is one line naming --ca-bundle, which fixes it."""
    monkeypatch.setenv("TABNINE_API_TOKEN", TOKEN)
    async with tls_server(ca) as base_url:
        failed = await anyio.to_thread.run_sync(cli_main, ["org", "--base-url", base_url])
        failed_err = capsys.readouterr().err
        fixed = await anyio.to_thread.run_sync(
            cli_main, ["org", "--base-url", base_url, "--ca-bundle", str(ca_file)]
        )
        fixed_out = capsys.readouterr().out
    assert failed == 1
    assert failed_err.count("\n") == 1
    assert "--ca-bundle" in failed_err
    assert "ca_bundle" not in failed_err
    assert fixed == 0
    assert "Yagel" in fixed_out


async def test_cli_honours_ssl_cert_file(ca: trustme.CA, ca_file: Path) -> None:
    """SSL_CERT_FILE, read by OpenSSL when the process starts, makes the server trusted."""
    env = {k: v for k, v in os.environ.items() if k not in CA_ENV}
    env.update(SSL_CERT_FILE=str(ca_file), TABNINE_API_TOKEN=TOKEN)
    env.pop("SSL_CERT_DIR", None)
    async with tls_server(ca) as base_url:
        result = await anyio.run_process(
            [sys.executable, "-m", "tabnine_usage_async", "org", "--base-url", base_url],
            env=env,
            check=False,
        )
    assert result.returncode == 0, result.stderr.decode()
    assert b"Yagel" in result.stdout
