"""The exception tree of ``tabnine_usage_async``.

Every error the SDK raises on purpose is a :class:`TabnineError`, so one ``except`` catches them
all. No aiohttp type ever appears in a public error, and no error message or ``repr`` ever carries
the API token.

::

    TabnineError
    ├── ConfigurationError          bad token, base URL or client knob (also a ValueError)
    ├── InvalidParameterError       bad method argument: dates, granularity... (also a ValueError)
    ├── ClientClosedError           the client was used outside ``async with`` or after closing
    ├── TransportError              the request never got a usable HTTP answer
    │   ├── RequestTimeoutError     ...because an attempt ran out of time
    │   ├── CertificateError        ...because the server's TLS certificate is not trusted
    │   └── ResponseTooLargeError   ...because the body passed ``max_response_bytes``
    ├── APIStatusError              the server answered with a non-2xx status
    │   ├── BadRequestError         400
    │   ├── AuthenticationError     401 (also "Invalid organization")
    │   ├── PermissionDeniedError   403
    │   │   └── FeatureNotAvailableError 403 FEATURE_NOT_AVAILABLE (e.g. no Agent licence)
    │   ├── NotFoundError           404
    │   ├── ConflictError           409
    │   ├── UnprocessableEntityError 422
    │   ├── RateLimitError          429, carries ``retry_after``
    │   ├── ServerError             5xx
    │   └── UnexpectedRedirectError 3xx (redirects are never followed: see the README)
    └── DecodeError                 a 2xx body that does not fit the schema
        └── PaginationError         pages that would loop forever or break the limit
            └── ListingChangedError the list changed while it was paged through

Example::

    try:
        report = await client.get_user_usage(user_id, start, end, "daily")
    except NotFoundError as exc:
        print(exc.status, exc.message, exc.code, exc.request_id)

Every ``APIStatusError`` carries the server's machine ``code`` and ``request_id`` when the body
has them (Tabnine 6.2 and later), and shows both in ``str()``: quote the request id to support.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "CertificateError",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "DecodeError",
    "FeatureNotAvailableError",
    "InvalidParameterError",
    "ListingChangedError",
    "NotFoundError",
    "PaginationError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTimeoutError",
    "ResponseTooLargeError",
    "ServerError",
    "TabnineError",
    "TransportError",
    "UnexpectedRedirectError",
    "UnprocessableEntityError",
]


class TabnineError(Exception):
    """Base class of every error raised by this package on purpose."""


class ConfigurationError(TabnineError, ValueError):
    """The client was configured with a value it cannot work with (token, base URL, knobs)."""


class InvalidParameterError(TabnineError, ValueError):
    """A method argument is invalid; raised before any request is sent."""


class ClientClosedError(TabnineError, RuntimeError):
    """The client is not open: use it inside ``async with TabnineClient(...)``."""


class TransportError(TabnineError):
    """The request did not get an HTTP response (connection refused, reset, truncated body...).

    Attributes:
        method: HTTP method of the failed request.
        path: the request path (never the full URL with credentials; there are none in it anyway).
    """

    def __init__(self, message: str, *, method: str = "GET", path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path

    def __str__(self) -> str:
        where = f" ({self.method} {self.path})" if self.path else ""
        return f"{self.message}{where}"


class RequestTimeoutError(TransportError, TimeoutError):
    """One attempt ran longer than the client's ``timeout``."""


class CertificateError(TransportError):
    """The server's TLS certificate could not be verified; not retried, waiting does not help.

    Private installations often use an internal certificate authority: pass its certificate
    with ``ca_bundle=`` (``--ca-bundle`` on the command line).

    Attributes:
        host: the server whose certificate was refused.
        reason: what OpenSSL found wrong, e.g. ``unable to get local issuer certificate``.
    """

    def __init__(
        self, message: str, *, host: str = "", reason: str = "", method: str = "GET", path: str = ""
    ) -> None:
        super().__init__(message, method=method, path=path)
        self.host = host
        self.reason = reason


class ResponseTooLargeError(TransportError):
    """The response body passed ``max_response_bytes`` (after decompression); not retried.

    Attributes:
        limit: the cap in bytes.
    """

    def __init__(self, message: str, *, limit: int, method: str = "GET", path: str = "") -> None:
        super().__init__(message, method=method, path=path)
        self.limit = limit


class APIStatusError(TabnineError):
    """The server answered with a status that is not a success.

    Attributes:
        status: the HTTP status code.
        message: the server's own message (from either error envelope, or the raw body text).
        details: the structured part of the error body (``errors`` list or ``details`` mapping).
        method: HTTP method of the request.
        path: the request path.
        code: the server's machine-readable error code (``FEATURE_NOT_AVAILABLE``...), or None.
        request_id: the server's id of the failed request, for support tickets, or None.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        details: Mapping[str, Any] | None = None,
        method: str = "GET",
        path: str = "",
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details: Mapping[str, Any] = dict(details or {})
        self.method = method
        self.path = path
        self.code = code
        self.request_id = request_id

    def __str__(self) -> str:
        text = f"{self.status} {self.message} ({self.method} {self.path})"
        tags = []
        if self.code is not None:
            tags.append(f"code {self.code}")
        if self.request_id is not None:
            tags.append(f"request id {self.request_id}")
        return f"{text} [{', '.join(tags)}]" if tags else text


class BadRequestError(APIStatusError):
    """400: the server rejected the parameters."""


class AuthenticationError(APIStatusError):
    """401: bad or missing token, or an ``organizationId`` the server does not accept."""


class PermissionDeniedError(APIStatusError):
    """403: the token's user may not read this resource."""


class FeatureNotAvailableError(PermissionDeniedError):
    """403 ``FEATURE_NOT_AVAILABLE``: the licence lacks the feature (agent usage needs Agent)."""


class NotFoundError(APIStatusError):
    """404: no such team, user or path."""


class ConflictError(APIStatusError):
    """409: the server reports a conflicting state; not retried."""


class UnprocessableEntityError(APIStatusError):
    """422: the parameters are well-formed but not acceptable."""


class RateLimitError(APIStatusError):
    """429 after every retry was used.

    Attributes:
        retry_after: seconds the server asked us to wait, when it said so.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 429,
        details: Mapping[str, Any] | None = None,
        method: str = "GET",
        path: str = "",
        retry_after: float | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(
            message,
            status=status,
            details=details,
            method=method,
            path=path,
            code=code,
            request_id=request_id,
        )
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """5xx after every retry was used."""


class UnexpectedRedirectError(APIStatusError):
    """3xx: the SDK never follows redirects, so the token cannot leak to another host."""


class DecodeError(TabnineError):
    """A successful response whose body does not fit the expected schema.

    Attributes:
        endpoint: the endpoint template, e.g. ``/api/v1/user/usage``.
        field: where in the body the problem is, as a JSON path like ``$.usage.data[0].from``.
        reason: what is wrong there.
    """

    def __init__(self, reason: str, *, endpoint: str, field: str = "$") -> None:
        super().__init__(f"unexpected response from {endpoint} at {field}: {reason}")
        self.endpoint = endpoint
        self.field = field
        self.reason = reason


class PaginationError(DecodeError):
    """The server's pages would loop forever (a repeated offset) or break the requested limit."""


class ListingChangedError(PaginationError):
    """The list changed while it was paged through: its items do not add up to ``meta.total``.

    With offset pagination, a member removed between two pages pushes another past the page
    boundary, unseen. ``list_members`` lists again when this happens, and raises it (or reports
    it as a failed listing) only when the list never holds still.
    """
