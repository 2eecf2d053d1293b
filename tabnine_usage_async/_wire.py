"""Sans-I/O decisions about the wire: no sockets, no event loop, no clock of their own.

Everything the transport and client decide is a pure function here, so each can be tested from a
table: parameter formatting, configuration checks, which error a status means, what an error body
says, how long ``Retry-After`` asks for, whether and how long to wait before a retry, and where
the next page starts (for each of the API's three page shapes).
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Mapping
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import attrs

from .errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    FeatureNotAvailableError,
    InvalidParameterError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnexpectedRedirectError,
    UnprocessableEntityError,
)
from .models import Granularity
from .windows import DateLike, format_datetime, resolve_range, to_utc

__all__ = [
    "ErrorBody",
    "RetryPolicy",
    "audit_log_params",
    "backoff_delay",
    "encode_path_segment",
    "error_for_status",
    "format_month",
    "next_audit_offset",
    "next_invitation_offset",
    "next_page_offset",
    "parse_error_body",
    "parse_granularity",
    "parse_retry_after",
    "read_error_body",
    "retry_delay",
    "should_retry_status",
    "validate_base_url",
    "validate_token",
]

_GRANULARITIES = ", ".join(repr(g.value) for g in Granularity)
_GRANULARITY_VALUES: dict[str, Granularity] = {g.value: g for g in Granularity}
_MAX_MESSAGE = 500  # characters of a non-JSON error body kept in a message (proxies send pages)
_TOKEN_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f]")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


# -- arguments ---------------------------------------------------------------------------------


def parse_granularity(value: Granularity | str) -> Granularity:
    """Accept a ``Granularity`` or one of its string values; name the allowed ones otherwise.

    >>> parse_granularity("weekly")
    <Granularity.WEEKLY: 'weekly'>
    """
    if isinstance(value, str):
        # Members and their exact values (every call of a walk) skip the enum's lookup machinery.
        found = _GRANULARITY_VALUES.get(value)
        if found is not None:
            return found
        try:
            return Granularity(value.strip().lower())
        except ValueError:
            pass
    raise InvalidParameterError(f"unknown granularity {value!r}: use one of {_GRANULARITIES}")


def format_month(value: date | str) -> str:
    """Format the ``startDate`` of account utilizations: ``YYYY-MM`` from a date or a string.

    >>> format_month(date(2026, 3, 14))
    '2026-03'
    """
    if isinstance(value, (date, datetime)):
        return f"{value.year:04d}-{value.month:02d}"
    if isinstance(value, str):
        match = _MONTH.match(value.strip())
        if match and 1 <= int(match.group(2)) <= 12:
            return match.group(0)
    raise InvalidParameterError(
        f"start must be a date or a 'YYYY-MM' string with a month 01..12, not {value!r}"
    )


def encode_path_segment(value: str, *, name: str) -> str:
    """Percent-encode an id so that it can never change which path is requested.

    ``/``, ``?``, ``#``, ``%`` and non-ASCII are encoded, and a segment of only dots is encoded
    too, since ``.`` and ``..`` would otherwise be resolved away by URL normalisation.

    >>> encode_path_segment("a/../b?c", name="team_id")
    'a%2F..%2Fb%3Fc'
    >>> encode_path_segment("..", name="team_id")
    '%2E%2E'
    """
    if not isinstance(value, str):
        raise InvalidParameterError(f"{name} must be a string, not {type(value).__name__}")
    if not value.strip():
        raise InvalidParameterError(f"{name} must not be empty")
    encoded = quote(value, safe="")
    if set(encoded) == {"."}:
        encoded = encoded.replace(".", "%2E")
    return encoded


_AUDIT_FILTERS = (
    ("event_type", "eventType"),
    ("actor_id", "actorId"),
    ("actor_email", "actorEmail"),
    ("resource_type", "resourceType"),
    ("resource_id", "resourceId"),
)


def audit_log_params(
    start: DateLike | None,
    end: DateLike | None,
    *,
    sort: str = "desc",
    **filters: str | None,
) -> dict[str, str]:
    """The query of an audit-log request, without paging: time range, filters and ``sort``.

    ``start`` and ``end`` are each optional; together they must form a valid ``[start, end)``.
    Filters that are ``None`` are left out; the others must be non-empty strings.

    >>> audit_log_params("2026-01-01", None, event_type="role.assigned", sort="asc")
    {'from': '2026-01-01T00:00:00Z', 'eventType': 'role.assigned', 'sort': 'asc'}
    """
    params: dict[str, str] = {}
    if start is not None and end is not None:
        first, last = resolve_range(start, end)
        params["from"], params["to"] = format_datetime(first), format_datetime(last)
    elif start is not None:
        params["from"] = format_datetime(to_utc(start, name="start"))
    elif end is not None:
        params["to"] = format_datetime(to_utc(end, name="end"))
    unknown = set(filters) - {name for name, _ in _AUDIT_FILTERS}
    if unknown:
        raise InvalidParameterError(
            f"unknown audit-log filter {sorted(unknown)[0]!r}: use "
            + ", ".join(name for name, _ in _AUDIT_FILTERS)
        )
    for name, wire in _AUDIT_FILTERS:
        value = filters.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            raise InvalidParameterError(f"{name} must be a non-empty string, not {value!r}")
        params[wire] = value
    if sort not in ("asc", "desc"):
        raise InvalidParameterError(f"sort must be 'asc' or 'desc', not {sort!r}")
    params["sort"] = sort
    return params


# -- configuration -----------------------------------------------------------------------------


def validate_token(token: object) -> str:
    """Check a personal access token without ever echoing it back.

    Raises:
        ConfigurationError: missing, empty, or containing whitespace or control characters (a
            newline would let a header be injected).
    """
    if token is None:
        raise ConfigurationError(
            "no API token: pass token=... or set TABNINE_API_TOKEN "
            "(create one in the Tabnine admin console under Settings > Access Tokens)"
        )
    if not isinstance(token, str):
        raise ConfigurationError(f"the API token must be a string, not {type(token).__name__}")
    if not token.strip():
        raise ConfigurationError("the API token is empty")
    if _TOKEN_FORBIDDEN.search(token):
        raise ConfigurationError(
            "the API token contains whitespace or a control character (a stray newline from a "
            "file?); strip it before passing it"
        )
    return token


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_base_url(url: object, *, allow_insecure_http: bool = False) -> str:
    """Check and normalise the base URL to ``scheme://host[:port]``.

    The API's paths all start with ``/api/``, so a path, query or fragment is almost always a
    pasted endpoint URL and is refused. Plain ``http`` would send the token in clear text, so it is
    refused for any host but loopback unless ``allow_insecure_http`` is set.

    >>> validate_base_url("https://tabnine.example.com/")
    'https://tabnine.example.com'
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError(
            "base_url must be a non-empty string like https://console.tabnine.com"
        )
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"base_url {text!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"base_url {text!r} needs a scheme and a host, like https://console.tabnine.com"
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError("base_url must not contain credentials; pass token=... instead")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigurationError(
            f"base_url {text!r} must be only scheme and host (no path, query or fragment): "
            f"use {parts.scheme}://{parts.netloc}"
        )
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise ConfigurationError(
            f"base_url {text!r} uses plain http to a non-loopback host, which would send the "
            "token unencrypted; use https, or pass allow_insecure_http=True if you must"
        )
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


# -- errors ------------------------------------------------------------------------------------

_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


#: The 6.2 machine code of a 403 caused by the licence, not by the token's role.
FEATURE_NOT_AVAILABLE = "FEATURE_NOT_AVAILABLE"


def error_class_for_status(status: int, code: str | None = None) -> type[APIStatusError]:
    """Map an HTTP status (and the body's machine code) to the most specific error class.

    >>> error_class_for_status(503).__name__
    'ServerError'
    >>> error_class_for_status(403, "FEATURE_NOT_AVAILABLE").__name__
    'FeatureNotAvailableError'
    """
    if status == 403 and code == FEATURE_NOT_AVAILABLE:
        return FeatureNotAvailableError
    if status in _STATUS_CLASSES:
        return _STATUS_CLASSES[status]
    if 500 <= status <= 599:
        return ServerError
    if 300 <= status <= 399:
        return UnexpectedRedirectError
    return APIStatusError


@attrs.frozen
class ErrorBody:
    """What an error body says: a message for people, and when sent a code and a request id."""

    message: str
    details: Mapping[str, Any] = attrs.field(factory=dict)
    code: str | None = None
    request_id: str | None = None


def _short(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line[:_MAX_MESSAGE] + "..." if len(one_line) > _MAX_MESSAGE else one_line


def _text_or_none(value: object) -> str | None:
    # Codes and request ids are shown to people: one short line, or nothing.
    return _short(value) or None if isinstance(value, str) else None


def read_error_body(body: bytes) -> ErrorBody:
    """Read an error body of any envelope Tabnine sends.

    - 6.2: ``{"error": "<CODE>", "message", "status", "requestId", "details": {...}}``
    - older: ``{"error": {"message", "errors", "status"}}``
    - related services: ``{"message", "status", "details"}``

    Anything else falls back to the body's text (a proxy's HTML page, say), shortened.

    >>> read_error_body(b'{"error": "FEATURE_NOT_AVAILABLE", "message": "No Agent",'
    ...                 b' "requestId": "r-1"}')
    ErrorBody(message='No Agent', details={}, code='FEATURE_NOT_AVAILABLE', request_id='r-1')
    """
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    request_id: str | None = None
    if isinstance(data, dict):
        request_id = _text_or_none(data.get("requestId"))
        envelope = data.get("error")
        if isinstance(envelope, dict) and isinstance(envelope.get("message"), str):
            details: dict[str, Any] = {}
            if isinstance(envelope.get("errors"), list):
                details["errors"] = envelope["errors"]
            return ErrorBody(
                envelope["message"],
                details,
                code=_text_or_none(envelope.get("code")),
                request_id=_text_or_none(envelope.get("requestId")) or request_id,
            )
        code = _text_or_none(envelope)
        message = data.get("message")
        if isinstance(message, str) or code is not None:
            extra = data.get("details")
            return ErrorBody(
                message if isinstance(message, str) else str(envelope),
                {"details": extra} if extra is not None else {},
                code=code,
                request_id=request_id,
            )
    if not text:
        return ErrorBody("(empty response body)")
    return ErrorBody(_short(text), request_id=request_id)


def parse_error_body(body: bytes) -> tuple[str, dict[str, Any]]:
    """The message and details of an error body (see ``read_error_body``).

    >>> parse_error_body(b'{"error": {"message": "Invalid organization", "status": 401}}')
    ('Invalid organization', {})
    """
    read = read_error_body(body)
    return read.message, dict(read.details)


def error_for_status(
    status: int,
    body: bytes,
    *,
    method: str,
    path: str,
    retry_after: float | None = None,
    location: str | None = None,
) -> APIStatusError:
    """Build the typed error for a non-2xx response."""
    read = read_error_body(body)
    message = read.message
    cls = error_class_for_status(status, read.code)
    context: dict[str, Any] = {
        "status": status,
        "details": read.details,
        "method": method,
        "path": path,
        "code": read.code,
        "request_id": read.request_id,
    }
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=retry_after, **context)
    if cls is UnexpectedRedirectError:
        target = urlsplit(location or "").netloc or "an unknown location"
        message = f"the server redirected to {target}; redirects are not followed"
    return cls(message, **context)


# -- retries -----------------------------------------------------------------------------------


@attrs.frozen
class RetryPolicy:
    """How the client retries.

    Attributes:
        max_retries: retries after the first attempt (0 disables retrying).
        base_delay: first backoff delay in seconds; doubles each retry.
        max_delay: cap of one backoff delay.
        max_retry_after: cap on how long a server's ``Retry-After`` is honoured; a server asking
            for an hour should not freeze a backfill silently.
    """

    max_retries: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0


#: Statuses worth another attempt: throttling and transient server or gateway failures.
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def should_retry_status(status: int) -> bool:
    """Whether a status is transient. 409 and the other 4xx are final: retrying changes nothing.

    >>> should_retry_status(503), should_retry_status(409)
    (True, False)
    """
    return status in _RETRY_STATUSES


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date).

    ``now`` is the current Unix time, passed in so that this stays pure. Returns ``None`` when the
    header is absent or unreadable; never a negative number.

    >>> parse_retry_after("3", now=0.0)
    3.0
    >>> parse_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", now=4.0)
    6.0
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def backoff_delay(policy: RetryPolicy, retry: int, jitter: float) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, capped.

    ``retry`` counts from 0 for the first retry; ``jitter`` is a number in ``[0, 1)``.

    >>> backoff_delay(RetryPolicy(base_delay=1.0, max_delay=30.0), 2, 0.0)
    2.0
    """
    ceiling = min(policy.max_delay, policy.base_delay * (2.0**retry))
    return ceiling / 2.0 + ceiling / 2.0 * jitter


def retry_delay(
    policy: RetryPolicy, retry: int, *, retry_after: float | None, jitter: float
) -> float:
    """Seconds to wait before retry number ``retry`` (0-based).

    A server's ``Retry-After`` wins over the backoff (capped by ``max_retry_after``), because it
    knows when it will accept requests again.

    >>> retry_delay(RetryPolicy(), 0, retry_after=7.0, jitter=0.5)
    7.0
    """
    if retry_after is not None:
        return min(retry_after, policy.max_retry_after)
    return backoff_delay(policy, retry, jitter)


# -- pagination --------------------------------------------------------------------------------


def next_page_offset(
    meta: Mapping[str, Any] | None,
    *,
    offset: int,
    count: int,
    limit: int,
    endpoint: str,
) -> int | None:
    """Where the next page starts, or ``None`` when this was the last page.

    Follows ``meta.next`` (absent or null ends the walk), stops on an empty page, and raises
    rather than looping when ``next`` does not move forward or the page is larger than asked.

    >>> next_page_offset({"next": {"offset": 100, "limit": 100}}, offset=0, count=100,
    ...                  limit=100, endpoint="/api/v1/organization/teams")
    100
    """
    if count > limit:
        raise PaginationError(
            f"page has {count} items but the limit was {limit}", endpoint=endpoint, field="$.data"
        )
    if count == 0:
        return None
    nxt = meta.get("next") if isinstance(meta, Mapping) else None
    if nxt is None:
        return None
    if not isinstance(nxt, Mapping):
        raise PaginationError("expected an object or null", endpoint=endpoint, field="$.meta.next")
    raw = nxt.get("offset")
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise PaginationError(
            f"expected an integer offset, got {raw!r}",
            endpoint=endpoint,
            field="$.meta.next.offset",
        )
    if raw <= offset:
        raise PaginationError(
            f"next offset {raw} does not move past the current offset {offset}; stopping instead "
            "of looping forever",
            endpoint=endpoint,
            field="$.meta.next.offset",
        )
    return raw


#: The audit-log endpoint refuses a larger ``limit``.
MAX_AUDIT_PAGE = 1000


def next_audit_offset(
    page_offset: object,
    *,
    offset: int,
    count: int,
    limit: int,
    endpoint: str,
) -> int | None:
    """Where the next audit-log page starts, or ``None`` after an empty page.

    Audit-log pages are ``{items, total, limit, offset}`` with no pointer to the next page, and
    ``total`` may be approximate, so the walk moves by the items received and ends only on an
    empty page. ``page_offset`` is the offset the page says it starts at: a different integer means
    the server ignored the requested one, and the walk would repeat itself forever.

    >>> next_audit_offset(0, offset=0, count=50, limit=50, endpoint="/audit-logs")
    50
    """
    if count > limit:
        raise PaginationError(
            f"page has {count} items but the limit was {limit}", endpoint=endpoint, field="$.items"
        )
    if not isinstance(page_offset, bool) and isinstance(page_offset, int) and page_offset != offset:
        raise PaginationError(
            f"the page starts at offset {page_offset} but offset {offset} was asked; stopping "
            "instead of repeating pages",
            endpoint=endpoint,
            field="$.offset",
        )
    if count == 0:
        return None
    return offset + count


def next_invitation_offset(
    meta: object,
    *,
    offset: int,
    count: int,
    limit: int,
    endpoint: str,
) -> int | None:
    """Where the next invitations page starts, or ``None`` when this was the last page.

    Invitation pages carry ``meta.next`` as a plain integer offset (or null), unlike the other
    lists' ``{offset, limit}`` object; the same guards apply as in ``next_page_offset``.

    >>> next_invitation_offset({"count": 2, "total": 5, "next": 2}, offset=0, count=2, limit=2,
    ...                        endpoint="/api/invitation/v1")
    2
    """
    if count > limit:
        raise PaginationError(
            f"page has {count} items but the limit was {limit}", endpoint=endpoint, field="$.data"
        )
    if count == 0:
        return None
    nxt = meta.get("next") if isinstance(meta, Mapping) else None
    if nxt is None:
        return None
    if isinstance(nxt, bool) or not isinstance(nxt, int):
        raise PaginationError(
            f"expected an integer offset or null, got {nxt!r}",
            endpoint=endpoint,
            field="$.meta.next",
        )
    if nxt <= offset:
        raise PaginationError(
            f"next offset {nxt} does not move past the current offset {offset}; stopping instead "
            "of looping forever",
            endpoint=endpoint,
            field="$.meta.next",
        )
    return nxt
