"""How to reach the server: which proxy, which TLS trust, decided once when a client is built.

Pure decisions (which proxy for a URL, given an environment) are functions of their inputs, so
they are tested from tables; building an ``ssl.SSLContext`` reads the files it is given and
turns every failure into a ``ConfigurationError`` that names the file.

The proxy is chosen here rather than by aiohttp's ``trust_env``: that looks the environment up
again (in a thread) on every request, and also reads ``~/.netrc``, whose credentials would clash
with the token's ``Authorization`` header.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Union
from urllib.parse import urlsplit

from .errors import ConfigurationError

__all__ = [
    "CA_BUNDLE_VARIABLES",
    "PathLike",
    "bypasses_proxy",
    "choose_proxy",
    "make_ssl_context",
    "proxy_credentials",
    "resolve_proxy",
    "resolve_tls",
    "shown_proxy",
    "validate_proxy",
]

PathLike = Union[str, "os.PathLike[str]"]

#: Read, in this order, for a CA bundle when none is given (as requests and curl do).
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")

_CERT_SUFFIXES = (".pem", ".crt", ".cer")


def validate_proxy(url: object) -> str:
    """Check a proxy URL (``http://[user:password@]host:port``) without ever echoing it.

    >>> validate_proxy("http://proxy.corp:3128")
    'http://proxy.corp:3128'
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError("the proxy must be a URL such as http://proxy.example.com:3128")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        scheme = f"{parts.scheme}://" if parts.scheme else "no scheme"
        raise ConfigurationError(
            f"the proxy URL must start with http:// or https://, not {scheme} "
            "(SOCKS proxies are not supported)"
        )
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise ConfigurationError("the proxy URL has an invalid port") from None
    if not parts.hostname:
        raise ConfigurationError("the proxy URL has no host")
    return url.strip()


def shown_proxy(url: str) -> str:
    """The proxy URL as it may be shown: ``scheme://host:port``, never the credentials.

    >>> shown_proxy("http://me:s3cret@proxy.corp:3128")
    'http://proxy.corp:3128'
    """
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def proxy_credentials(url: str | None) -> tuple[str, ...]:
    """The secrets in a proxy URL (the password, and ``user:password``), to redact from text."""
    if url is None:
        return ()
    parts = urlsplit(url)
    if not parts.password:
        return ()
    return (f"{parts.username}:{parts.password}", parts.password)


def _env(environ: Mapping[str, str], name: str) -> str | None:
    # Lowercase first, as curl and urllib do; uppercase HTTP_PROXY is ignored under CGI, where a
    # client's "Proxy:" header arrives as HTTP_PROXY ("httpoxy").
    value = environ.get(name.lower())
    if not value and not (name == "HTTP_PROXY" and "REQUEST_METHOD" in environ):
        value = environ.get(name)
    return value.strip() if value and value.strip() else None


def choose_proxy(base_url: str, environ: Mapping[str, str]) -> str | None:
    """The proxy the environment asks for to reach ``base_url``, or ``None`` to go direct.

    ``HTTPS_PROXY`` for https, ``HTTP_PROXY`` for http, ``ALL_PROXY`` for either, unless
    ``NO_PROXY`` names the host (``*``, a host, a domain suffix, optionally with a port).

    >>> choose_proxy("https://tabnine.corp", {"HTTPS_PROXY": "http://proxy:3128"})
    'http://proxy:3128'
    >>> choose_proxy("https://tabnine.corp", {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": ".corp"})
    """
    parts = urlsplit(base_url)
    proxy = _env(environ, f"{parts.scheme.upper()}_PROXY") or _env(environ, "ALL_PROXY")
    if proxy is None:
        return None
    no_proxy = _env(environ, "NO_PROXY")
    if no_proxy and bypasses_proxy(parts.hostname or "", parts.port, no_proxy):
        return None
    return validate_proxy(proxy)


def bypasses_proxy(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` names this host: ``*``, the host, a parent domain (``.corp`` or
    ``corp``), an IP network (``10.0.0.0/8``), each optionally with ``:port``.

    >>> bypasses_proxy("tabnine.corp.example", 443, "localhost,.example")
    True
    """
    host = host.lower().strip("[]")
    for raw in no_proxy.lower().split(","):
        entry = raw.strip()
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if _has_port(entry) else (entry, "", "")
        if entry_port and entry_port != str(port):
            continue
        name = name.strip("[]").lstrip("*").lstrip(".")
        if host == name or host.endswith("." + name) or _in_network(host, name):
            return True
    return False


def _has_port(entry: str) -> bool:
    head, sep, tail = entry.rpartition(":")
    return bool(sep) and tail.isdigit() and (head.endswith("]") or ":" not in head)


def _in_network(host: str, name: str) -> bool:
    if "/" not in name:
        return False
    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(name, strict=False)
    except ValueError:
        return False


def _readable(path: PathLike, what: str) -> Path:
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise ConfigurationError(f"the {what} {resolved} does not exist")
    return resolved


def make_ssl_context(
    ca_bundle: PathLike | None = None,
    client_cert: PathLike | None = None,
    client_key: PathLike | None = None,
    *,
    source: str = "",
) -> ssl.SSLContext:
    """A verifying TLS context trusting ``ca_bundle`` (file or folder) instead of the system CAs.

    Without ``ca_bundle`` the system's CAs are trusted. ``client_cert`` (PEM, may hold the key
    too) and ``client_key`` present a client certificate for mutual TLS. ``source`` says where
    the bundle's path came from, for messages (`` from REQUESTS_CA_BUNDLE``).
    """
    if client_key is not None and client_cert is None:
        raise ConfigurationError("a client key was given without its client certificate")
    if ca_bundle is None:
        context = ssl.create_default_context()
    else:
        # Only the bundle is trusted, as with curl --cacert and requests' verify=PATH.
        bundle = _readable(ca_bundle, f"CA bundle{source}")
        try:
            if bundle.is_dir():
                # Hashed names (c_rehash) are looked up lazily; plain *.pem/*.crt files too.
                context = ssl.create_default_context(capath=str(bundle))
                files = sorted(p for p in bundle.iterdir() if p.suffix.lower() in _CERT_SUFFIXES)
                for file in files:
                    context.load_verify_locations(cafile=str(file))
            else:
                context = ssl.create_default_context(cafile=str(bundle))
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise ConfigurationError(
                f"cannot read the CA bundle{source} {bundle}: {_reason(exc)} "
                "(expected PEM certificates)"
            ) from None
    if client_cert is not None:
        cert = _readable(client_cert, "client certificate")
        key = _readable(client_key, "client key") if client_key is not None else None
        try:
            context.load_cert_chain(str(cert), str(key) if key is not None else None)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise ConfigurationError(
                f"cannot load the client certificate {cert}"
                + (f" with the key {key}" if key is not None else "")
                + f": {_reason(exc)}"
            ) from None
    return context


def resolve_tls(
    base_url: str,
    *,
    ssl_context: object,
    ca_bundle: PathLike | None,
    client_cert: PathLike | None,
    client_key: PathLike | None,
    trust_env: bool,
    environ: Mapping[str, str],
) -> ssl.SSLContext | None:
    """The TLS context a client uses, or ``None`` for aiohttp's default (the system's CAs).

    ``ssl_context`` wins and excludes the file options; then ``ca_bundle``; then, when
    ``trust_env``, ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` for an https URL. OpenSSL's own
    ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` apply to the default.
    """
    if ssl_context is not None:
        if not isinstance(ssl_context, ssl.SSLContext):
            raise ConfigurationError(
                f"ssl_context must be an ssl.SSLContext, not {type(ssl_context).__name__}"
            )
        if ca_bundle is not None or client_cert is not None or client_key is not None:
            raise ConfigurationError(
                "give either ssl_context or ca_bundle/client_cert/client_key, not both: "
                "load the files into the context instead"
            )
        return ssl_context
    source = ""
    if ca_bundle is None and trust_env and base_url.startswith("https://"):
        for name in CA_BUNDLE_VARIABLES:
            if environ.get(name, "").strip():
                ca_bundle, source = environ[name].strip(), f" from {name}"
                break
    if ca_bundle is None and client_cert is None and client_key is None:
        return None
    return make_ssl_context(ca_bundle, client_cert, client_key, source=source)


def resolve_proxy(
    base_url: str, proxy: object, *, trust_env: bool, environ: Mapping[str, str]
) -> str | None:
    """The proxy a client uses: ``proxy`` if given, else the environment's when ``trust_env``."""
    if proxy is not None:
        return validate_proxy(proxy)
    return choose_proxy(base_url, environ) if trust_env else None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).replace("_", " ").lower()
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
