"""Exit codes, the usage error, and the one-line messages the command line prints on stderr."""

from __future__ import annotations

import sys
import traceback

from ._terminal import visible

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "PROG",
    "UsageError",
    "error",
    "note",
    "one_line",
    "show_traceback",
]

PROG = "tabnine-usage"

#: Everything done.
EXIT_OK = 0
#: Finished, but some units failed (they are listed), or the API answered with an error.
EXIT_FAILED = 1
#: Bad command line or configuration; nothing was fetched.
EXIT_USAGE = 2
#: Interrupted by Ctrl-C or SIGTERM (128 + SIGINT, the shell convention).
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """The command line itself is wrong (unknown option, bad value): exit 2."""


def one_line(text: object) -> str:
    """``text`` with every run of whitespace, line breaks included, folded into one space, and
    every other control character shown as an escape (messages carry servers' words)."""
    return visible(" ".join(str(text).split()))


def error(message: object) -> None:
    """Print ``tabnine-usage: error: ...`` as exactly one line on stderr."""
    print(f"{PROG}: error: {one_line(message)}", file=sys.stderr, flush=True)


def note(message: str) -> None:
    """Print ``tabnine-usage: ...`` on stderr, control characters shown as escapes."""
    print(f"{PROG}: {visible(message, keep_lines=True)}", file=sys.stderr, flush=True)


def show_traceback(debug: bool) -> None:
    """Print the exception being handled, with its traceback, when ``--debug`` asked for it."""
    if debug:
        traceback.print_exc(file=sys.stderr)
