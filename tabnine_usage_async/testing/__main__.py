"""``python -m tabnine_usage_async.testing``: serve a fake Tabnine API, announce it as JSON.

Prints one line ``{"base_url": ..., "token": ...}`` when ready and serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .process import add_fake_server_arguments, fake_server_main


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and serve; the exit code is returned."""
    parser = argparse.ArgumentParser(
        prog="python -m tabnine_usage_async.testing",
        description="Serve a fake Tabnine Usage Metrics API on 127.0.0.1.",
    )
    add_fake_server_arguments(parser, default_port=0)
    args = parser.parse_args(argv)
    args.json = True
    return fake_server_main(args)


if __name__ == "__main__":
    sys.exit(main())
