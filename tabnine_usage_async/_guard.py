"""Sans-I/O defences against servers that answer badly: no sockets, no event loop.

A server (or a proxy in front of it) is not trusted to keep the token to itself: every body the
transport reads passes through :func:`redact` before anything else sees it, so an echoed
``Authorization`` value never reaches an error, a log line, a checkpoint or an output. Bodies are
then parsed by :func:`parse_json`, which turns every way a body can break Python's parser into a
``DecodeError`` that says what is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .errors import CertificateError, DecodeError, ResponseTooLargeError, TransportError

__all__ = [
    "REDACTED",
    "parse_json",
    "redact",
    "redact_text",
    "secret_forms",
    "transport_error_is_retryable",
]

#: What a secret is replaced with.
REDACTED = "[REDACTED]"
_REDACTED_BYTES = REDACTED.encode()


def secret_forms(*secrets: str) -> tuple[bytes, ...]:
    """The byte spellings a server may echo each secret in: as is, and JSON-escaped.

    Longest first, so that a longer spelling is replaced before a shorter one inside it.

    >>> secret_forms("a/b")
    (b'a\\\\/b', b'a/b')
    """
    forms: set[str] = set()
    for secret in secrets:
        escaped = json.dumps(secret)[1:-1]
        forms.update((secret, escaped, escaped.replace("/", "\\/")))
    return tuple(sorted((form.encode() for form in forms), key=lambda f: (-len(f), f)))


def redact(body: bytes, forms: tuple[bytes, ...]) -> bytes:
    """``body`` with every spelling in ``forms`` replaced by ``[REDACTED]``.

    A replacement inside a JSON string keeps the JSON valid, so a redacted body still parses.

    >>> redact(b'{"m": "denied for Bearer s3cret"}', secret_forms("s3cret"))
    b'{"m": "denied for Bearer [REDACTED]"}'
    """
    for form in forms:
        if form in body:
            body = body.replace(form, _REDACTED_BYTES)
    return body


def redact_text(text: str, forms: tuple[bytes, ...]) -> str:
    """``text`` (a message built from server bytes, say) with every secret spelling redacted."""
    for form in forms:
        spelled = form.decode()
        if spelled in text:
            text = text.replace(spelled, REDACTED)
    return text


def transport_error_is_retryable(exc: TransportError) -> bool:
    """Whether waiting and trying again can help: not for a bad certificate or a huge body."""
    return not isinstance(exc, (CertificateError, ResponseTooLargeError))


def _non_finite(constant: str) -> None:
    # NaN, Infinity and -Infinity are not JSON (RFC 8259), and would be written back out as
    # invalid JSON in every output; null is how JSON spells "no number" (JSON.stringify agrees).
    # Known numeric fields still refuse the null: only unknown keys kept in ``extra`` carry it.
    return None


_DECODER = json.JSONDecoder(parse_constant=_non_finite)


def _optional_parser() -> Callable[[bytes], Any] | None:
    """msgspec's JSON parser when the ``speed`` extra is installed, else ``None``.

    It is three to four times faster than the standard library's on a usage answer and gives the
    same result whenever it succeeds (integers of any size, correctly rounded floats, the last of
    duplicate keys). Whatever it refuses (``NaN``, a byte order mark, UTF-16, a lone surrogate,
    out-of-range numbers, broken JSON) goes to the standard library, which reads it or says why.
    """
    try:
        import msgspec
    except ImportError:
        return None
    parser: Callable[[bytes], Any] = msgspec.json.Decoder().decode
    return parser


_FAST_PARSE = _optional_parser()


def parse_json(body: bytes, endpoint: str) -> Any:
    """Parse a response body, with ``NaN`` and ``Infinity`` read as ``null``.

    Raises:
        DecodeError: the body is empty or not JSON, nests too deeply for the parser, or holds an
            integer too long to convert (Python's limit is 4300 digits).

    >>> parse_json(b'{"seats": 3, "ratio": NaN}', "/api/v1/organization")
    {'seats': 3, 'ratio': None}
    """
    if _FAST_PARSE is not None:
        try:
            return _FAST_PARSE(body)
        except Exception:  # the standard library below reads it or words the error
            pass
    try:
        # What json.loads does with bytes, minus building a decoder on every call.
        return _DECODER.decode(body.decode(json.detect_encoding(body), "surrogatepass"))
    except RecursionError:
        raise DecodeError(
            "the body nests arrays or objects too deeply to parse (no real answer nests more "
            "than a few levels)",
            endpoint=endpoint,
        ) from None
    except ValueError as exc:
        if "integer string conversion" in str(exc):
            raise DecodeError(
                "the body holds an integer with more than 4300 digits, longer than any real count",
                endpoint=endpoint,
            ) from None
        snippet = body[:80].decode("utf-8", errors="replace")
        raise DecodeError(
            f"the body is not JSON (starts with {snippet!r})" if body else "the body is empty",
            endpoint=endpoint,
        ) from None
