"""``main``: parse the command line, run the command, and turn its outcome into an exit code."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Sequence

from ..errors import (
    CertificateError,
    ConfigurationError,
    InvalidParameterError,
    TabnineError,
)
from ._errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    error,
    note,
    show_traceback,
)
from ._parser import build_parser
from ._run import Run, run_command
from ._wording import for_command_line

__all__ = ["main"]

logger = logging.getLogger("tabnine_usage_async")


def configure_logging(verbosity: int, quiet: bool) -> Callable[[], None]:
    """Send the package's log to stderr at the chosen level; return a function that undoes it."""
    if verbosity >= 2:
        level = logging.DEBUG
    elif verbosity == 1:
        level = logging.INFO
    else:
        level = logging.ERROR if quiet else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    previous = (logger.level, logger.propagate)
    logger.setLevel(level)
    logger.addHandler(handler)
    # Our handler prints; passing records up as well would print them twice under a root handler.
    logger.propagate = False

    def restore() -> None:
        logger.removeHandler(handler)
        logger.setLevel(previous[0])
        logger.propagate = previous[1]

    return restore


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tabnine-usage`` command line with ``argv`` (default: ``sys.argv[1:]``).

    Returns the exit code: 0 done, 1 failed units or an API error, 2 bad usage or configuration,
    130 interrupted.
    """
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
    except UsageError as exc:
        error(exc)
        return EXIT_USAGE
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    if args.handler is None:
        from ..testing import fake_server_main

        return fake_server_main(args)
    restore_logging = configure_logging(args.verbose, args.quiet)
    run = Run()
    try:
        code = asyncio.run(run_command(args.handler, args, run))
        if code == EXIT_INTERRUPTED:
            note(run.interrupt_note)
        return code
    except KeyboardInterrupt:
        note(run.interrupt_note)
        return EXIT_INTERRUPTED
    except (UsageError, ConfigurationError, InvalidParameterError) as exc:
        show_traceback(args.debug)
        error(for_command_line(str(exc), args.command))
        return EXIT_USAGE
    except CertificateError as exc:
        show_traceback(args.debug)
        error(
            f"CertificateError: the TLS certificate of {exc.host} is not trusted ({exc.reason}); "
            "if the server uses an internal certificate authority, pass its certificate with "
            "--ca-bundle PATH (or set REQUESTS_CA_BUNDLE)"
        )
        return EXIT_FAILED
    except TabnineError as exc:
        show_traceback(args.debug)
        error(f"{type(exc).__name__}: {exc}")
        return EXIT_FAILED
    except OSError as exc:
        show_traceback(args.debug)
        error(exc)
        return EXIT_FAILED
    except Exception as exc:
        show_traceback(args.debug)
        hint = "" if args.debug else " (run with --debug for the traceback)"
        error(f"unexpected {type(exc).__name__}: {exc}{hint}")
        return EXIT_FAILED
    finally:
        restore_logging()
