"""An answer that has arrived but is not read yet, for callers that read it later."""

from __future__ import annotations

from typing import Generic, TypeVar

from ._convert import decode
from ._guard import parse_json

__all__ = ["Unparsed"]

T = TypeVar("T")


class Unparsed(Generic[T]):
    """An answer's body as it arrived, with what it is to become: ``decode()`` makes it so.

    Parsing and structuring are the CPU-heavy part of an answer; holding them back lets the
    engine's worker send its next request first (see ``sync._engine``). ``decode`` raises the
    same ``DecodeError`` the client's own call would have.
    """

    __slots__ = ("body", "cls", "endpoint")

    def __init__(self, body: bytes, cls: type[T], endpoint: str) -> None:
        self.body = body
        self.cls = cls
        self.endpoint = endpoint

    def decode(self) -> T:
        """The answer as ``cls``; raises ``DecodeError`` when the body does not fit."""
        result: T = decode(parse_json(self.body, self.endpoint), self.cls, endpoint=self.endpoint)
        return result
