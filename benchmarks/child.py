"""``python -m benchmarks.child SPEC.json``: run one workload, print its measurements as JSON.

Each run gets a fresh interpreter, so CPU time and peak RSS belong to that run alone. The spec
decides, before the SDK is imported, whether the optional speed extra may be used
(``"speed": false`` hides msgspec, as on an install without the extra) and which event loop
runs the workload (``"loop": "uvloop"``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    """Read the spec file named by ``argv[0]`` and print one JSON line of results."""
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    if spec.get("speed") is False:
        # What an install without the extra sees: the import fails, the SDK falls back.
        sys.modules["msgspec"] = None  # type: ignore[assignment]
    from .workloads import run_workload

    print(json.dumps(run_workload(spec)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
