"""The sans-I/O defences against hostile servers, from tables of inputs."""

from __future__ import annotations

import json

import pytest

from tabnine_usage_async._guard import REDACTED, redact, redact_text, secret_forms

SECRET = "tok/en+1"


@pytest.mark.parametrize(
    "body",
    [
        b"denied for Bearer tok/en+1",
        b'{"message": "denied for tok\\/en+1"}',
        b"tok/en+1tok/en+1",
        json.dumps({"m": SECRET}).encode(),
    ],
)
def test_redact_removes_every_spelling(body: bytes) -> None:
    """The secret, as is or JSON-escaped, is replaced wherever it occurs."""
    forms = secret_forms(SECRET)
    cleaned = redact(body, forms)
    assert SECRET.encode() not in cleaned
    assert b"tok\\/en+1" not in cleaned
    assert REDACTED.encode() in cleaned


def test_redacted_json_stays_json() -> None:
    """A secret inside a JSON string is replaced without breaking the JSON."""
    body = json.dumps({"error": {"message": f"no access for Bearer {SECRET}"}}).encode()
    assert json.loads(redact(body, secret_forms(SECRET))) == {
        "error": {"message": f"no access for Bearer {REDACTED}"}
    }


def test_redact_leaves_other_bodies_alone() -> None:
    """A body without the secret comes back unchanged, the same object."""
    body = b'{"id": "t-1"}'
    assert redact(body, secret_forms(SECRET)) is body


def test_redact_text() -> None:
    """Text built from server bytes is redacted the same way."""
    assert redact_text(f"x {SECRET} y", secret_forms(SECRET)) == f"x {REDACTED} y"
