"""The machine description and the human-readable report (terminal and ``RESULTS.md``)."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

from .scenarios import Summary

__all__ = ["describe_machine", "render"]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return None


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def describe_machine() -> dict[str, Any]:
    """CPU model, cores, RAM, OS and the versions that matter; nothing that identifies a host."""
    memory = _memory_gib()
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(memory, 1) if memory else None,
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "versions": {
            name: _version(name)
            for name in ("tabnine-usage-async", "aiohttp", "httpx", "cattrs", "attrs", "anyio")
        },
        "executable_bits": 64 if sys.maxsize > 2**32 else 32,
    }


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        parts = [
            str(cell).ljust(width) if i == 0 else str(cell).rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(parts) + " |"

    rule = (
        "|"
        + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths))
        + "|"
    )
    return [line(header), rule, *(line(row) for row in rows)]


def render(
    summaries: list[Summary], machine: dict[str, Any], *, mode: str, command: str, when: str
) -> str:
    """The whole report as Markdown: machine, one table per scenario, then every target."""
    versions = machine["versions"]
    memory = f", {machine['memory_gib']} GiB RAM" if machine.get("memory_gib") else ""
    out = [
        "# Benchmark results",
        "",
        f"Mode `{mode}`, run {when} with `{command}`.",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores{memory}, {machine['os']}, "
        f"{machine['python']}; tabnine-usage-async {versions['tabnine-usage-async']}, "
        f"aiohttp {versions['aiohttp']}, httpx {versions['httpx']}, cattrs {versions['cattrs']}.",
        "",
        "Medians over the runs; contenders interleaved run by run; the fake server runs in its "
        "own process, pinned to another core than the client when the machine has two or more.",
        "",
    ]
    targets = []
    for summary in summaries:
        out += [f"## {summary.title}", ""]
        out += _table(summary.header, summary.rows)
        out.append("")
        out += [f"- {note}" for note in summary.notes]
        if summary.notes:
            out.append("")
        targets += summary.targets
    if targets:
        out += ["## Targets", ""]
        out += _table(
            ["target", "goal", "measured", "verdict"],
            [[t.name, t.goal, t.measured, "met" if t.met else "MISSED"] for t in targets],
        )
        out.append("")
    return "\n".join(out)
