"""The ``tabnine-usage`` command line: bulk backfills, everyday reads, and a fake server.

This package is the composition root of the command line: it is the only place that reads
environment variables for it, configures logging, or prints. Everything else in the package is a
library that returns values and raises ``TabnineError``s.

Streams: a read subcommand (``org``, ``teams``, ``users``, ``usage``, ``license``,
``utilization``, ``admins``) and ``backfill --dry-run`` write their result to stdout; progress,
the backfill summary, warnings and errors go to stderr, so stdout can be piped.

Exit codes: 0 done; 1 finished with failed units, or an API error; 2 bad usage or configuration
(one line on stderr, no traceback); 130 interrupted (Ctrl-C or SIGTERM; a backfill's checkpoint
stays intact and the same command resumes it).

Example::

    $ export TABNINE_API_TOKEN=...   # or --token-file PATH
    $ tabnine-usage backfill --start 2026-01-01 --end 2026-07-01 --output usage.parquet
    $ tabnine-usage teams --format csv
    $ tabnine-usage backfill --fake --start 2026-01-01 --end 2026-02-01 --output try.jsonl
"""

from __future__ import annotations

from ._errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError
from ._main import main
from ._parser import build_parser

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "build_parser",
    "main",
]
