"""One typed error out of the exception groups that task groups raise."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator

from .errors import TabnineError

if sys.version_info < (3, 11):  # pragma: no cover - anyio brings the backport there
    from exceptiongroup import BaseExceptionGroup

__all__ = ["one_error", "only_error"]


def _leaves(error: BaseException) -> Iterator[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from _leaves(inner)
    else:
        yield error


def only_error(error: BaseException) -> BaseException:
    """The one error that stopped a group of tasks.

    Two requests can fail at the same instant; the caller still gets one typed error (the first
    TabnineError, else the first real error), not a group of them.
    """
    leaves = [e for e in _leaves(error) if not isinstance(e, asyncio.CancelledError)]
    for leaf in leaves:
        if isinstance(leaf, TabnineError):
            return leaf
    return leaves[0] if leaves else error


@contextlib.contextmanager
def one_error() -> Iterator[None]:
    """Re-raise an exception group leaving the block as its one error (see ``only_error``)."""
    try:
        yield
    except BaseExceptionGroup as group:
        raise only_error(group) from None
