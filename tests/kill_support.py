"""Kill a CLI run with SIGKILL while it fetches, then run it to the end (crash-resume tests)."""

from __future__ import annotations

import random
import re
import signal
import subprocess
import time
from collections.abc import Callable, Sequence


def kill_then_finish(
    argv: Sequence[str],
    env: dict[str, str],
    requests: Callable[[], int],
    moments: Sequence[tuple[float, float]],
    rng: random.Random,
) -> subprocess.CompletedProcess[str]:
    """Start ``argv`` once per ``(low, high)`` in ``moments`` and SIGKILL it a random
    ``low..high`` seconds after its first request (``requests()`` counts them); then run it
    once more to the end and return that run."""
    for low, high in moments:
        child = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL)
        try:
            before = requests()
            deadline = time.monotonic() + 30
            while requests() == before and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(low, high))
            assert child.poll() is None, "the run ended before it was killed"
            child.send_signal(signal.SIGKILL)
        finally:
            child.kill()
            child.wait()
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=False)


def units_done_skipped(stderr: str) -> tuple[int, int]:
    """The summary's ``units: N done, M skipped`` counts."""
    found = re.search(r"units: (\d+) done, (\d+) skipped", stderr)
    assert found is not None, stderr
    return int(found.group(1)), int(found.group(2))
