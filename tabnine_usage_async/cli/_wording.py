"""Library messages reworded for the command line: options, not Python arguments.

The library's errors name its own arguments (``base_url``, ``allow_insecure_http=True``,
``team_id``); on the command line the same mistake is made through an option, so the message
names the option. Each rule is one known phrase; a message no rule knows passes unchanged.
"""

from __future__ import annotations

import re

__all__ = ["for_command_line"]

_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"pass allow_insecure_http=True\b", "pass --allow-insecure-http"),
        (
            r"base_url must not contain credentials; pass token=\.\.\. instead",
            "--base-url must not contain credentials; put the token in TABNINE_API_TOKEN or "
            "a --token-file",
        ),
        (r"\bbase_url\b", "--base-url"),
        (r"\bteam_id\b", "--team"),
        (r"\buser_id\b", "--user"),
        (r"\bunknown window\b", "unknown --window"),
        (r", or a timedelta\b", ""),
        (r"\bpass a format:", "pass --format, one of"),
        # "end (...) must be after start (...)", "start '...' is not a date".
        (r"(?<![\w\[-])(start|end)(?= \(| ')", r"--\1"),
        (r"^(start|end)\b", r"--\1"),
    )
)

# Options whose library argument has another name, per subcommand.
_RENAMED = {
    "utilization": (
        (
            re.compile(r"^start must be a date or a 'YYYY-MM'"),
            "--since must be a date or a 'YYYY-MM'",
        ),
    )
}


def for_command_line(message: str, command: str | None) -> str:
    """``message`` with the library's argument names replaced by command-line options.

    >>> for_command_line("team_id must not be empty", "users")
    '--team must not be empty'
    """
    for pattern, replacement in _RENAMED.get(command or "", ()):
        message = pattern.sub(replacement, message)
    for pattern, replacement in _RULES:
        message = pattern.sub(replacement, message)
    return message
