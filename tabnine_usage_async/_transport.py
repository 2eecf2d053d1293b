"""The one place that talks aiohttp: send a GET, retry what is transient, return parsed JSON.

The transport wraps (never subclasses) an ``aiohttp.ClientSession`` and translates every aiohttp
exception into a ``TransportError`` at exactly one boundary, ``_attempt``. Decisions (retry or not,
how long, which error) come from the pure functions in ``_wire``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import anyio
import attrs
from aiohttp import hdrs
from yarl import URL

from ._guard import (
    parse_json,
    redact,
    redact_text,
    secret_forms,
    transport_error_is_retryable,
)
from ._limits import Limits
from ._network import proxy_credentials
from ._version import __version__
from ._wire import (
    RetryPolicy,
    error_for_status,
    parse_retry_after,
    retry_delay,
    should_retry_status,
)
from .errors import (
    APIStatusError,
    CertificateError,
    ClientClosedError,
    RequestTimeoutError,
    ResponseTooLargeError,
    TransportError,
)

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "STREAM_CHUNK", "ClientStats", "Transport"]

logger = logging.getLogger("tabnine_usage_async")

_USER_AGENT = f"tabnine-usage-async/{__version__}"

#: 64 MiB: the largest real answer (a year of daily usage of a big team) is a few MiB.
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024


@attrs.define
class ClientStats:
    """Counters of one client's traffic, for summaries and tests.

    Attributes:
        requests: HTTP attempts sent (first tries and retries).
        retries: attempts that were retries.
        rate_limited: responses with status 429.
        failures: calls that failed after every retry.
    """

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    failures: int = 0


@attrs.define
class _Response:
    status: int
    body: bytes
    retry_after: str | None
    location: str | None
    sent: float


class Transport:
    """Sends GET requests under the client's limits and retry policy."""

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        timeout: float,
        max_concurrency: int,
        rate_limit: float | None,
        retry_policy: RetryPolicy,
        session: aiohttp.ClientSession | None = None,
        adaptive_rate_limit: bool = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        ssl_context: ssl.SSLContext | None = None,
        proxy: str | None = None,
    ) -> None:
        self._base_url = base_url
        self._max_response_bytes = max_response_bytes
        # True is aiohttp's verifying default; a context is never False (no way to skip checks).
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._proxy = proxy
        # Built once; the header dict is never logged or shown in a repr.
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
        }
        # Every body is scrubbed of these before anything reads it: servers and proxies echo.
        self._secrets = secret_forms(token, *proxy_credentials(proxy))
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 10.0))
        # A streamed export may take minutes as a whole; each read still has the timeout.
        self._stream_timeout = aiohttp.ClientTimeout(
            total=None, connect=self._timeout.connect, sock_read=timeout
        )
        self._max_concurrency = max_concurrency
        self._policy = retry_policy
        self._session = session
        self._owns_session = session is None
        self._state = "new"
        self._random = random.Random()
        self.limits = Limits(max_concurrency, rate_limit, adaptive=adaptive_rate_limit)
        self.stats = ClientStats()

    def __repr__(self) -> str:
        return f"<Transport {self._base_url} {self._state}>"

    async def open(self) -> None:
        """Create the owned session (sized to the concurrency), or adopt the borrowed one."""
        if self._state == "closed":
            raise ClientClosedError("this client was closed; create a new TabnineClient")
        if self._state == "open":
            return
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_concurrency, limit_per_host=self._max_concurrency
            )
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        self._state = "open"

    async def close(self) -> None:
        """Close the owned session; a borrowed one is left to its owner."""
        if self._state == "closed":
            return
        self._state = "closed"
        if self._owns_session and self._session is not None:
            await self._session.close()

    async def get_json(self, path: str, params: Mapping[str, str], *, endpoint: str) -> Any:
        """GET ``path`` and return the decoded JSON body, retrying what is transient.

        ``path`` is already percent-encoded; ``endpoint`` is its template, used in errors.
        """
        return parse_json(await self.get_body(path, params), endpoint)

    async def get_body(self, path: str, params: Mapping[str, str]) -> bytes:
        """GET ``path`` and return the 2xx body, unparsed, retrying what is transient."""
        url, shown = self._url(path, params)
        # The first attempt directly: nearly every request succeeds at once, and the retry loop
        # (a closure and another coroutine per call) only starts when it did not.
        first: _Response | TransportError
        try:
            first = await self._attempt(url, shown, 0, self._headers, None)
        except TransportError as exc:
            first = exc
        if isinstance(first, _Response) and 200 <= first.status < 300:
            return first.body
        response = await self._with_retries(
            shown, lambda retry: self._attempt(url, shown, retry, self._headers, None), first=first
        )
        return response.body

    async def stream_get(
        self,
        path: str,
        params: Mapping[str, str],
        *,
        sink: Callable[[bytes], object],
        accept: str,
    ) -> int:
        """GET ``path`` and hand the 2xx body to ``sink`` chunk by chunk; return the bytes written.

        Same limits, retry decisions and errors as ``get_json``, but the body is never held whole:
        an export of millions of rows streams through. Retries happen only while no byte has
        reached ``sink``; once the body has started, a broken connection raises
        ``TransportError`` (the caller discards what it got). One attempt may take as long as it
        needs while bytes keep coming; each read may wait at most the client's timeout.
        """
        url, shown = self._url(path, params)
        headers = {**self._headers, "Accept": accept}
        progress = _Stream(sink)
        await self._with_retries(
            shown,
            lambda retry: self._attempt(url, shown, retry, headers, progress),
            may_retry=lambda: progress.written == 0,
        )
        return progress.written

    def _url(self, path: str, params: Mapping[str, str]) -> tuple[URL, str]:
        if self._state != "open":
            raise ClientClosedError(
                "the client is not open: use it inside `async with TabnineClient(...) as client`"
            )
        return build_url(self._base_url, path, params)

    async def _with_retries(
        self,
        shown: str,
        attempt: Callable[[int], Awaitable[_Response]],
        *,
        may_retry: Callable[[], bool] = lambda: True,
        first: _Response | TransportError | None = None,
    ) -> _Response:
        """Run ``attempt(retry)`` until a 2xx answer, a final error or the retry budget ends.

        ``first`` is the outcome of a first attempt the caller already made, if any.
        """
        retry = 0
        outcome = first
        while True:
            retry_after: float | None = None
            if outcome is None:
                try:
                    outcome = await attempt(retry)
                except TransportError as exc:
                    outcome = exc
            response, outcome = outcome, None
            if isinstance(response, TransportError):
                failure: TransportError | APIStatusError = response
                retryable = transport_error_is_retryable(response) and may_retry()
                pause_everyone = False
            else:
                if 200 <= response.status < 300:
                    return response
                retry_after = parse_retry_after(response.retry_after, now=time.time())
                failure = error_for_status(
                    response.status,
                    response.body,
                    method="GET",
                    path=shown,
                    retry_after=retry_after,
                    location=response.location,
                )
                retryable = should_retry_status(response.status)
                # A 429 while already throttled only lowers the learned rate (AdaptiveRate).
                pause_everyone = response.status == 429 and self.limits.throttled(response.sent)
            if not retryable or retry >= self._policy.max_retries:
                self.stats.failures += 1
                raise failure
            delay = retry_delay(
                self._policy, retry, retry_after=retry_after, jitter=self._random.random()
            )
            if pause_everyone:
                # Everyone waits, not only this task: the server is throttling the client.
                self.limits.gate.pause(delay)
            retry += 1
            self.stats.retries += 1
            logger.debug("GET %s failed (%s); retry %d in %.2fs", shown, failure, retry, delay)
            await anyio.sleep(delay)

    async def _attempt(
        self,
        url: URL,
        shown: str,
        retry: int,
        headers: Mapping[str, str],
        stream: _Stream | None,
    ) -> _Response:
        """One request; the only place aiohttp exceptions become ``TransportError``s.

        With ``stream``, a 2xx body goes to its sink as it arrives (each read bounded by the
        client's timeout, the whole answer not) and the returned body is empty.
        """
        session = self._session
        assert session is not None  # guaranteed by the "open" state
        timeout = self._timeout if stream is None else self._stream_timeout
        limits = self.limits
        # Not ``async with limits.slot()``: a generator-based context manager per request costs
        # more than everything else this method does itself.
        sent = await limits.acquire()
        try:
            self.stats.requests += 1
            debug = logger.isEnabledFor(logging.DEBUG)
            started = time.perf_counter() if debug else 0.0
            try:
                async with session.get(
                    url,
                    headers=headers,
                    allow_redirects=False,
                    timeout=timeout,
                    ssl=self._ssl,
                    proxy=self._proxy,
                ) as resp:
                    status = resp.status
                    if stream is not None and 200 <= status < 300:
                        await stream.pour(resp)
                        body = b""
                    elif stream is not None:
                        # Only the start of an error body: its text goes into the message.
                        body = await resp.content.read(_STREAM_ERROR_BODY)
                    else:
                        body = await _read_body(resp, self._max_response_bytes)
                    headers_in = resp.headers
            except (asyncio.TimeoutError, TimeoutError):
                self.limits.passed(sent)
                raise RequestTimeoutError(
                    f"no complete response within {self._timeout.total}s", path=shown
                ) from None
            except ResponseTooLargeError as exc:
                self.limits.passed(sent)
                exc.path = shown
                raise
            except aiohttp.ClientConnectorCertificateError as exc:
                self.limits.passed(sent)
                raise _untrusted(exc, shown) from None
            except aiohttp.ClientError as exc:
                self.limits.passed(sent)
                raise TransportError(
                    redact_text(_describe(exc), self._secrets), path=shown
                ) from None
        finally:
            limits.release()
        if status == 429:
            self.stats.rate_limited += 1
        else:
            limits.passed(sent)
        if debug:
            logger.debug(
                "GET %s -> %d attempt=%d %.1fms",
                shown,
                status,
                retry + 1,
                (time.perf_counter() - started) * 1000,
            )
        return _Response(
            status,
            redact(body, self._secrets),
            headers_in.get("Retry-After"),
            headers_in.get("Location"),
            sent,
        )


async def _read_body(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body, decompressed, or ``ResponseTooLargeError`` as soon as it passes ``limit``.

    An announced length past the cap fails before a byte is read. Otherwise the body is read as
    it arrives (aiohttp unpacks compressed bodies piece by piece), so an endless or exploding
    body costs at most ``limit`` plus one piece of memory.
    """
    length = resp.content_length
    if length is not None and length > limit and hdrs.CONTENT_ENCODING not in resp.headers:
        raise _too_large(limit)
    content = resp.content
    chunks = []
    size = 0
    while chunk := await content.readany():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> ResponseTooLargeError:
    shown = f"{limit // 1048576} MiB" if limit % 1048576 == 0 else f"{limit} bytes"
    return ResponseTooLargeError(
        f"the response body is larger than the {shown} limit on a response's size; "
        "the server or a proxy in front of it is misbehaving",
        limit=limit,
    )


def _untrusted(exc: aiohttp.ClientConnectorCertificateError, shown: str) -> CertificateError:
    cause = exc.certificate_error
    reason = getattr(cause, "verify_message", None) or getattr(cause, "reason", None) or str(cause)
    return CertificateError(
        f"the TLS certificate of {exc.host} is not trusted ({reason}); if the server uses an "
        "internal certificate authority, pass its certificate as ca_bundle=PATH or set "
        "REQUESTS_CA_BUNDLE",
        host=exc.host,
        reason=str(reason),
        path=shown,
    )


#: Size of the pieces a streamed body is handed over in.
STREAM_CHUNK = 64 * 1024
#: How much of an error body a streamed request reads (its text goes into the error message).
_STREAM_ERROR_BODY = 64 * 1024


class _Stream:
    """Where one streamed GET pours its 2xx body, and how much of it got there."""

    def __init__(self, sink: Callable[[bytes], object]) -> None:
        self.sink = sink
        self.written = 0

    async def pour(self, resp: aiohttp.ClientResponse) -> None:
        async for chunk in resp.content.iter_chunked(STREAM_CHUNK):
            self.sink(chunk)
            self.written += len(chunk)


# Characters yarl leaves as they are in a query value (RFC 3986 unreserved, plus ":"): ids,
# RFC 3339 times and words. Anything else goes through yarl's own quoting.
_PLAIN_QUERY = re.compile(r"[A-Za-z0-9._~:-]*")


def build_url(base_url: str, path: str, params: Mapping[str, str]) -> tuple[URL, str]:
    """The request URL of ``path`` (already encoded) and ``params``, and how errors show it.

    The same URL yarl's ``with_query`` builds; written out directly when every key and value is
    plain (the usual case: ids, times, granularities), which skips yarl's quoting machinery.

    >>> build_url("https://x.test", "/api/v1/user/usage", {"userId": "u-1", "to": "2026-01-01Z"})[1]
    '/api/v1/user/usage?userId=u-1&to=2026-01-01Z'
    """
    if not params:
        return URL(base_url + path, encoded=True), path
    # One match over every key and value joined: none of them may hold "&" or "=" either.
    if _PLAIN_QUERY.fullmatch("".join([*params, *params.values()])):
        shown = path + "?" + "&".join([f"{key}={value}" for key, value in params.items()])
        return URL(base_url + shown, encoded=True), shown
    url = URL(base_url + path, encoded=True).with_query(params)
    return url, f"{path}?{url.raw_query_string}"


def _describe(exc: aiohttp.ClientError) -> str:
    # aiohttp messages can embed the request URL; ours has no secret in it, but keep it short.
    kind = type(exc).__name__
    text = str(exc).strip()
    return f"{kind}: {text}" if text else kind
