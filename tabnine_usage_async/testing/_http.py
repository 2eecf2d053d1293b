"""Error answers and strict parameter parsing shared by the fake server's routes.

Two error envelopes exist. The legacy routes answer what people observed on the live API,
``{"error": {"message", "errors", "status"}}``; the routes added in 6.2 answer the 6.2 body
``{"error": <CODE>, "message", "status", "requestId", "details": {"errors": [...]}}``. Which
one a response uses is decided per route by the server (see ``fake_server``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from aiohttp import web

from ._timefmt import parse_request_datetime
from .usage import GRANULARITIES, Granularity

__all__ = [
    "ApiError",
    "json_response",
    "parse_bool",
    "parse_int",
    "parse_range",
    "require",
]

_JSON = "application/json"
_CODES = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
}


def json_response(
    payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """``payload`` as compact JSON."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return web.Response(
        body=body, status=status, headers=headers, content_type=_JSON, charset="utf-8"
    )


class ApiError(Exception):
    """An error answer: ``status``, a message, details and an optional machine ``code``."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: Sequence[str] = (),
        headers: Mapping[str, str] | None = None,
        *,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = list(errors) or [message]
        self.headers = dict(headers or {})
        self.code = code or _CODES.get(status, "ERROR")

    def response(self, *, current: bool = False) -> web.Response:
        """The error as JSON: the legacy envelope, or the 6.2 one when ``current``."""
        if not current:
            body: dict[str, Any] = {
                "error": {"message": self.message, "errors": self.errors, "status": self.status}
            }
            return json_response(body, status=self.status, headers=self.headers)
        request_id = str(uuid.uuid4())
        body = {
            "error": self.code,
            "message": self.message,
            "status": self.status,
            "requestId": request_id,
            "details": {"errors": self.errors},
        }
        headers = {**self.headers, "X-Request-Id": request_id}
        return json_response(body, status=self.status, headers=headers)


def require(request: web.Request, *names: str) -> dict[str, str]:
    """The named query parameters; 400 naming every missing one."""
    missing = [name for name in names if not request.query.get(name)]
    if missing:
        raise ApiError(400, "Validation error", [f"{name} is required" for name in missing])
    return {name: request.query[name] for name in names}


def parse_int(name: str, text: str, minimum: int, maximum: int | None = None) -> int:
    """A decimal integer in ``[minimum, maximum]``; 400 otherwise."""
    if not text.isdigit() or int(text) < minimum or (maximum is not None and int(text) > maximum):
        if maximum is not None:
            kind = f"an integer from {minimum} to {maximum}"
        else:
            kind = "a positive integer" if minimum > 0 else "a non-negative integer"
        raise ApiError(400, "Validation error", [f"{name} must be {kind}"])
    return int(text)


def parse_bool(name: str, text: str) -> bool:
    """``true`` or ``false`` (any case); 400 otherwise."""
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise ApiError(400, "Validation error", [f"{name} must be true or false"])
    return lowered == "true"


def parse_moments(params: Mapping[str, str], names: Sequence[str]) -> dict[str, datetime]:
    """Strictly parsed date-times of the given parameters; one 400 listing every bad one."""
    errors = []
    moments = {}
    for name in names:
        try:
            moments[name] = parse_request_datetime(params[name])
        except ValueError as error:
            errors.append(f"{name}: {error}")
    if errors:
        raise ApiError(400, "Validation error", errors)
    return moments


def parse_range(params: Mapping[str, str]) -> tuple[datetime, datetime, Granularity]:
    """``from``, ``to`` and ``granularity`` of a usage request, validated."""
    moments = parse_moments(params, ("from", "to"))
    start, end = moments["from"], moments["to"]
    if end <= start:
        raise ApiError(400, "Validation error", ["to must be later than from"])
    for granularity in GRANULARITIES:
        if params["granularity"] == granularity:
            return start, end, granularity
    choices = ", ".join(GRANULARITIES)
    raise ApiError(400, "Validation error", [f"granularity must be one of: {choices}"])
