"""Running one command on the event loop: SIGINT and SIGTERM cancel it, so cleanup still runs."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable

import attrs

from ._errors import EXIT_INTERRUPTED

__all__ = ["Handler", "Run", "run_command"]


@attrs.define
class Run:
    """State of one command run that the top level needs when it is interrupted."""

    interrupt_note: str = "interrupted"
    #: The exit code of a command that has finished its work and reported it: a signal after
    #: that point no longer makes the run "interrupted".
    finished: int | None = None


Handler = Callable[[argparse.Namespace, Run], Awaitable[int]]


async def run_command(handler: Handler, args: argparse.Namespace, run: Run) -> int:
    """Run the command; SIGINT and SIGTERM cancel it, so cleanup (the checkpoint) still runs."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    interrupted = False
    installed: list[signal.Signals] = []

    def uninstall() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)
        installed.clear()

    def on_signal() -> None:
        nonlocal interrupted
        interrupted = True
        # A second signal gets the default behaviour, so a stuck cleanup can still be stopped.
        uninstall()
        task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, on_signal)
            installed.append(sig)
    try:
        return await handler(args, run)
    except asyncio.CancelledError:
        if not interrupted:
            raise
        return EXIT_INTERRUPTED if run.finished is None else run.finished
    finally:
        uninstall()
