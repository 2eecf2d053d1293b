"""Text from a server made safe for a terminal: control characters are shown, never obeyed.

A team named ``"\\x1b]0;pwned\\x07"`` would retitle the window; ``"\\x1b[2J"`` clears the screen;
U+202E flips the direction of what follows. Table and message output shows each such character
as an escape (``\\x1b``, ``\\u202e``) instead. Data formats (CSV, JSON, files) keep exact values.
"""

from __future__ import annotations

__all__ = ["visible"]


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_CONTROLS = [*range(0x20), 0x7F, *range(0x80, 0xA0)]
# Bidirectional embeddings, overrides and isolates: they reorder the rest of the line.
_BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_TABLE = {code: _escape(code) for code in (*_CONTROLS, *_BIDI)}
_TABLE[ord("\n")] = "\\n"
_TABLE[ord("\t")] = "\\t"
_TABLE[ord("\r")] = "\\r"
_TABLE_KEEPING_LINES = {**_TABLE, ord("\n"): "\n"}


def visible(text: str, *, keep_lines: bool = False) -> str:
    """``text`` with every control character shown as an escape (but line breaks kept, with
    ``keep_lines``, for multi-line messages).

    >>> visible("QA\\x1b[2J")
    'QA\\\\x1b[2J'
    """
    return text.translate(_TABLE_KEEPING_LINES if keep_lines else _TABLE)
