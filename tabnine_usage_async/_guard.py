"""Sans-I/O defences against servers that answer badly: no sockets, no event loop.

A server (or a proxy in front of it) is not trusted to keep the token to itself: every body the
transport reads passes through :func:`redact` before anything else sees it, so an echoed
``Authorization`` value never reaches an error, a log line, a checkpoint or an output.
"""

from __future__ import annotations

import json

from .errors import CertificateError, ResponseTooLargeError, TransportError

__all__ = ["REDACTED", "redact", "redact_text", "secret_forms", "transport_error_is_retryable"]

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
