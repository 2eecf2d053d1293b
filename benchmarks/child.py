"""``python -m benchmarks.child SPEC.json``: run one workload, print its measurements as JSON.

Each run gets a fresh interpreter, so CPU time and peak RSS belong to that run alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .workloads import run_workload


def main(argv: list[str]) -> int:
    """Read the spec file named by ``argv[0]`` and print one JSON line of results."""
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    print(json.dumps(run_workload(spec)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
