"""The five scenarios, their sizes in each mode, and how their runs become table rows and verdicts.

A scenario names the fake server it needs, the contenders it runs, and the spec of every child
run; ``summarise`` turns the runs into medians, ratios and a verdict per target.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MODES",
    "OVERHEAD_ROWS",
    "SCENARIOS",
    "Mode",
    "OverheadRow",
    "Scenario",
    "Target",
    "summarise",
]

SEED = 7
TEAMS = 20
CONCURRENCY = 64
#: The walk behind a slow private installation: more requests in flight to cover the latency.
SLOW_CONCURRENCY = 256


@dataclass(frozen=True)
class Mode:
    """Sizes of one mode: ``full`` (the real thing), ``quick`` (under a minute), ``smoke``."""

    name: str
    runs: int
    overhead_requests: int
    walk_runs: int
    walk_users: int
    walk_months: int
    walk_latency_ms: float
    slow_latency_ms: float
    sequential_sample: int
    memory_users: tuple[int, int]
    memory_runs: int
    rate: float
    rate_seconds: float
    storm_rate: float
    storm_seconds: float
    limited_runs: int
    scale_users: tuple[int, int]


MODES = {
    "full": Mode(
        name="full",
        runs=3,
        overhead_requests=10_000,
        walk_runs=3,
        walk_users=2000,
        walk_months=6,
        walk_latency_ms=50.0,
        slow_latency_ms=500.0,
        sequential_sample=200,
        memory_users=(1000, 10_000),
        memory_runs=3,
        rate=200.0,
        rate_seconds=10.0,
        storm_rate=200.0,
        storm_seconds=10.0,
        limited_runs=3,
        scale_users=(10_000, 100_000),
    ),
    "quick": Mode(
        name="quick",
        runs=2,
        overhead_requests=2000,
        walk_runs=1,
        walk_users=200,
        walk_months=2,
        walk_latency_ms=50.0,
        slow_latency_ms=500.0,
        sequential_sample=10,
        memory_users=(200, 2000),
        memory_runs=1,
        rate=200.0,
        rate_seconds=2.0,
        storm_rate=200.0,
        storm_seconds=2.0,
        limited_runs=1,
        scale_users=(500, 5000),
    ),
    "smoke": Mode(
        name="smoke",
        runs=1,
        overhead_requests=40,
        walk_runs=1,
        walk_users=15,
        walk_months=2,
        walk_latency_ms=5.0,
        slow_latency_ms=20.0,
        sequential_sample=5,
        memory_users=(10, 20),
        memory_runs=1,
        rate=50.0,
        rate_seconds=0.4,
        storm_rate=40.0,
        storm_seconds=1.0,
        limited_runs=1,
        scale_users=(20, 200),
    ),
}

#: Every walk covers whole months ending at the fake organization's "today" (2026-01-15).
WALK_END = "2026-01-01"

#: Spread of the jittered walk's latency, as a share of the mean (uniform, +/- 20 %).
WALK_JITTER = 0.2


def walk_start(months: int) -> str:
    """The first day of the month ``months`` before ``WALK_END``."""
    year, month = 2026, 1 - months
    while month < 1:
        month += 12
        year -= 1
    return f"{year:04d}-{month:02d}-01"


@dataclass(frozen=True)
class Target:
    """One acceptance target and the measured value it is judged on."""

    name: str
    goal: str
    measured: str
    met: bool


@dataclass
class Summary:
    """A scenario's table (header and rows), its targets, and notes printed under it."""

    title: str
    header: list[str]
    rows: list[list[str]]
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """A scenario: its fake server options and the contenders it runs, in interleaving order."""

    key: str
    title: str
    contenders: tuple[str, ...]


@dataclass(frozen=True)
class OverheadRow:
    """One contender of the client-bound scenario: which client, API, install and event loop."""

    key: str
    contender: str
    api: str
    speed: bool
    loop: str
    floor: str  # the key of the row it is compared with

    @property
    def label(self) -> str:
        """How the table names the row."""
        name = LABELS[self.contender].replace(" (floor)", "")
        parts = [f"{name} {self.api}"]
        if self.speed:
            parts[0] += " [speed]"
        if self.loop != "asyncio":
            parts.append(self.loop)
        return ", ".join(parts) + (" (floor)" if self.key == self.floor else "")


#: Interleaved in this order within each run. ``speed=False`` hides the speed extra.
OVERHEAD_ROWS = (
    OverheadRow("ours-v1", "ours", "v1", False, "asyncio", "aiohttp-v1"),
    OverheadRow("ours-v1-speed", "ours", "v1", True, "asyncio", "aiohttp-v1"),
    OverheadRow("aiohttp-v1", "aiohttp", "v1", False, "asyncio", "aiohttp-v1"),
    OverheadRow("ours-v2", "ours", "v2", False, "asyncio", "aiohttp-v2"),
    OverheadRow("ours-v2-speed", "ours", "v2", True, "asyncio", "aiohttp-v2"),
    OverheadRow("aiohttp-v2", "aiohttp", "v2", False, "asyncio", "aiohttp-v2"),
    OverheadRow("httpx-v1", "httpx", "v1", False, "asyncio", "aiohttp-v1"),
    OverheadRow("ours-v1-uvloop", "ours", "v1", False, "uvloop", "aiohttp-v1-uvloop"),
    OverheadRow("aiohttp-v1-uvloop", "aiohttp", "v1", False, "uvloop", "aiohttp-v1-uvloop"),
)

SCENARIOS = (
    Scenario("overhead", "1. Client overhead", ("ours", "aiohttp", "httpx")),
    Scenario("walk", "2. Latency-bound walk", ("ours", "aiohttp", "httpx", "sequential")),
    Scenario("memory", "3. Memory of a streaming walk", ("ours",)),
    Scenario("rate", "4. Rate limit adherence", ("ours",)),
    Scenario("storm", "5. 429 storm", ("ours", "aiohttp", "httpx")),
    Scenario("scale", "6. Scale", ("ours",)),
    Scenario("sync", "7. Dataset sync", ("ours",)),
)

#: Users of the synced organization per mode, and runs of each phase (a full-size first sync
#: makes 130,000 requests: one run of it is enough to see where the time goes).
SYNC_USERS = {"full": 10_000, "quick": 500, "smoke": 10}
SYNC_RUNS = {"full": 1, "quick": 1, "smoke": 1}
#: The synced year: a first sync from ``SYNC_SINCE`` up to ``SYNC_FIRST_NOW`` (the backfill),
#: then the next morning's run up to ``SYNC_DAILY_NOW``. The smoke run covers a few months only.
SYNC_SINCE = {"full": "2025-01-01", "quick": "2025-01-01", "smoke": "2025-11-01"}
SYNC_FIRST_NOW = "2026-01-14T06:00:00Z"
SYNC_DAILY_NOW = "2026-01-15T06:00:00Z"

LABELS = {
    "ours": "tabnine-usage-async",
    "aiohttp": "aiohttp loop (floor)",
    "httpx": "httpx loop",
    "sequential": "sequential loop",
}


def _median(values: Sequence[float | None]) -> float:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else float("nan")


def _by(runs: list[dict[str, Any]], key: str, value: Any) -> list[dict[str, Any]]:
    return [r for r in runs if r.get(key) == value]


def _fmt(value: float, digits: int = 0) -> str:
    if value != value:  # NaN
        return "-"
    return f"{value:,.{digits}f}"


def _rps(run: dict[str, Any]) -> float:
    result = run["result"]
    return float(result["ok"]) / result["elapsed"] if result["elapsed"] else 0.0


def summarise(key: str, runs: list[dict[str, Any]], params: dict[str, Any]) -> Summary:
    """The table and verdicts of one scenario from its runs."""
    return _SUMMARISERS[key](runs, params)


def _overhead(runs: list[dict[str, Any]], params: dict[str, Any]) -> Summary:
    rps: dict[str, float] = {}
    cpu: dict[str, float] = {}
    client_busy: dict[str, float] = {}
    server_busy: dict[str, float] = {}
    for row in OVERHEAD_ROWS:
        mine = _by(runs, "row", row.key)
        rps[row.key] = _median([_rps(r) for r in mine])
        cpu[row.key] = _median([r["result"]["cpu"] * 1e6 / max(1, r["result"]["ok"]) for r in mine])
        client_busy[row.key] = _median(
            [100 * r["result"]["cpu"] / r["result"]["wall"] for r in mine if r["result"]["wall"]]
        )
        server_busy[row.key] = _median(
            [
                100 * r["server"]["cpu"] / r["result"]["elapsed"]
                for r in mine
                if "cpu" in r["server"] and r["result"]["elapsed"]
            ]
        )
    rows = []
    for row in OVERHEAD_ROWS:
        rows.append(
            [
                row.label,
                _fmt(rps[row.key]),
                _fmt(rps[row.key] / rps[row.floor], 2),
                _fmt(cpu[row.key]),
                _fmt(cpu[row.key] / cpu[row.floor], 2),
                _fmt(client_busy[row.key]),
                _fmt(server_busy[row.key]),
                str(len(_by(runs, "row", row.key))),
            ]
        )

    def ratio(key: str) -> float:
        floor = next(r.floor for r in OVERHEAD_ROWS if r.key == key)
        return rps[key] / rps[floor]

    ours_server = max(v for k, v in server_busy.items() if k.startswith("ours"))
    httpx_ratio = rps["ours-v1"] / rps["httpx-v1"]
    targets = [
        Target(
            "client-bound: server CPU (busiest of our rows)",
            "< 60 %",
            f"{ours_server:.0f} %",
            ours_server < 60,
        )
    ]
    for key, goal, label in (
        ("ours-v1", 0.90, "get_user_usage vs aiohttp loop"),
        ("ours-v1-speed", 1.00, "get_user_usage [speed] vs aiohttp loop"),
        ("ours-v2", 0.90, "get_user_usage_v2 vs aiohttp loop"),
        ("ours-v2-speed", 1.00, "get_user_usage_v2 [speed] vs aiohttp loop"),
    ):
        targets.append(
            Target(f"overhead: {label}", f">= {goal:.2f}", f"{ratio(key):.2f}", ratio(key) >= goal)
        )
    targets.append(
        Target(
            "overhead: throughput vs httpx loop",
            "far ahead (> 1.5)",
            f"{httpx_ratio:.2f}",
            httpx_ratio > 1.5,
        )
    )
    sizes = ", ".join(f"{api} {size:,} B" for api, size in sorted(params["body_bytes"].items()))
    return Summary(
        title=(
            f"1. Client overhead: {params['requests']:,} user-usage requests per run, "
            f"concurrency {params['concurrency']}, a server that does almost nothing"
        ),
        header=[
            "contender",
            "req/s",
            "vs floor",
            "CPU µs/req",
            "vs floor",
            "client CPU %",
            "server CPU %",
            "runs",
        ],
        rows=rows,
        targets=targets,
        notes=[
            "The server answers every request with the same pre-serialized body (a real answer "
            f"of the fake server for one user's week at daily granularity: {sizes}) from a raw "
            "asyncio protocol in its own process, so the client is the bottleneck: see the two "
            "CPU columns (each process's CPU time over the run's wall time, one core each).",
            "vs floor compares with the aiohttp + json.loads loop reading the same body on the "
            "same event loop. [speed] is the optional extra (msgspec parses the answers); the "
            "other rows of ours run without it, as a default install does.",
            "CPU µs/req is the client process's user+system CPU time divided by requests; on a "
            "shared machine it is steadier than req/s, which also depends on how much of its "
            "core the client got.",
        ],
        numbers={
            "rps": rps,
            "cpu_us": cpu,
            "client_cpu_pct": client_busy,
            "server_cpu_pct": server_busy,
            "ratios": {row.key: ratio(row.key) for row in OVERHEAD_ROWS},
            "cpu_ratios": {row.key: cpu[row.floor] / cpu[row.key] for row in OVERHEAD_ROWS},
        },
    )


def _walk(runs: list[dict[str, Any]], params: dict[str, Any]) -> Summary:
    jitter = params.get("jitter_ms", 0.0)
    rows = []
    ratios: dict[str, float] = {}
    jittered: dict[str, float] = {}
    slow: dict[str, float] = {}
    fast = (params["latency_ms"], params["concurrency"])
    groups = [(c, 0.0, *fast) for c in ("ours", "aiohttp", "httpx", "sequential")]
    groups += [(c, jitter, *fast) for c in ("ours", "aiohttp")] if jitter else []
    slow_setting = (params["slow_latency_ms"], params["slow_concurrency"])
    groups += [(c, 0.0, *slow_setting) for c in ("ours", "aiohttp")]
    for contender, spread, latency_ms, concurrency in groups:
        mine = [
            r
            for r in _by(runs, "contender", contender)
            if r.get("jitter_ms", 0) == spread
            and r.get("latency_ms", params["latency_ms"]) == latency_ms
            and r.get("concurrency", params["concurrency"]) == concurrency
        ]
        if not mine:
            continue
        requests = _median([r["server"]["total_requests"] for r in mine])
        setting = f"{latency_ms:.0f} ms, c={concurrency}"
        if contender == "sequential":
            wall = _median([r["result"]["extrapolated_wall"] for r in mine])
            units = _median([r["result"]["units"] for r in mine])
            sample = _median([r["result"]["sample_units"] for r in mine])
            rows.append(
                [
                    f"{LABELS[contender]} (extrapolated from {sample:.0f} units)",
                    setting,
                    _fmt(wall, 1),
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    f"~{units:,.0f}",
                    str(len(mine)),
                ]
            )
            continue
        wall = _median([r["result"]["elapsed"] for r in mine])
        ideal = requests * latency_ms / 1000 / concurrency
        if spread:
            jittered[contender] = wall / ideal
        elif (latency_ms, concurrency) == slow_setting:
            slow[contender] = wall / ideal
        else:
            ratios[contender] = wall / ideal
        server_cpu = [
            100 * r["server"]["cpu"] / r["result"]["elapsed"] for r in mine if "cpu" in r["server"]
        ]
        client_cpu = [
            100 * r["result"]["cpu"] / r["result"]["wall"] for r in mine if r["result"]["wall"]
        ]
        label = LABELS[contender] + (f", latency ±{spread:.0f} ms" if spread else "")
        rows.append(
            [
                label,
                setting,
                _fmt(wall, 2),
                _fmt(ideal, 2),
                _fmt(wall / ideal, 3),
                _fmt(_median([r["result"]["first_record"] for r in mine]), 3),
                _fmt(_median([r["result"].get("listing_done") for r in mine]), 3),
                _fmt(_median(client_cpu)),
                _fmt(_median(server_cpu)),
                _fmt(_median([r["server"].get("late_ms") for r in mine]), 2),
                _fmt(requests),
                str(len(mine)),
            ]
        )
    ours = ratios.get("ours", float("nan"))
    ours_slow = slow.get("ours", float("nan"))
    notes = [
        "ideal = requests x latency / concurrency (listing requests included).",
        "first record: seconds from start to the first usage record; the baselines list the "
        "whole organization first, ours fetches while it lists.",
        "client CPU % and server CPU %: each process's CPU time over the run's wall time (one "
        "core each); neither near 100 means the run measures latency, not CPU.",
        "The server is a replay server: it answers each request with the fake server's answer "
        "to it, recorded in an untimed warm-up run of each contender, after the latency; every "
        "timed run was served from the recording alone (a run with a miss fails).",
        "server late ms: how long after it was due the replay server wrote an answer, on "
        "average; it adds to every round trip of every contender alike. Its loop waits with "
        "select(), whose timeout has microsecond resolution (epoll's is a millisecond).",
        "No client reaches 1.0: a user is known only after the organization, team and member "
        "listings (two round trips at least), and the last round of requests is not full.",
        "The sequential row is not measured end to end: it lists the organization, fetches an "
        "evenly spread sample of units one at a time, and extrapolates to every unit.",
    ]
    if jitter:
        notes.append(
            f"The ±{jitter:.0f} ms rows draw each latency uniformly around the same "
            f"{params['latency_ms']:.0f} ms mean, as a network would: with a fixed latency, "
            "requests that start together come back together and queue for one core on each "
            "side, and the burst never spreads out. Their ratio shows how much of the gap that is."
        )
    notes.append(
        f"The {slow_setting[0]:.0f} ms rows are a large organization behind a slow private "
        f"installation: {slow_setting[1]} requests in flight to cover the latency."
    )
    return Summary(
        title=(
            f"2. Latency-bound walk: {params['users']:,} users, {params['teams']} teams, "
            f"{params['months']} monthly windows"
        ),
        header=[
            "contender",
            "latency, concurrency",
            "wall s",
            "ideal s",
            "wall/ideal",
            "first record s",
            "listing done s",
            "client CPU %",
            "server CPU %",
            "server late ms",
            "requests",
            "runs",
        ],
        rows=rows,
        targets=[
            Target(
                f"walk: wall time vs ideal ({fast[0]:.0f} ms, c={fast[1]})",
                "<= 1.05",
                f"{ours:.3f}",
                ours <= 1.05,
            ),
            Target(
                f"walk: wall time vs ideal ({slow_setting[0]:.0f} ms, c={slow_setting[1]})",
                "<= 1.05",
                f"{ours_slow:.3f}",
                ours_slow <= 1.05,
            ),
        ],
        notes=notes,
        numbers={
            "wall_over_ideal": ratios,
            "wall_over_ideal_jittered": jittered,
            "wall_over_ideal_slow": slow,
        },
    )


def _memory(runs: list[dict[str, Any]], params: dict[str, Any]) -> Summary:
    small, large = params["users"]
    rows = []
    rss: dict[int, float] = {}
    for users in (small, large):
        mine = _by(runs, "users", users)
        rss[users] = _median([r["result"]["max_rss_kb"] / 1024 for r in mine])
        rows.append(
            [
                f"{users:,} users",
                _fmt(rss[users], 1),
                _fmt(_median([r["result"]["records"] for r in mine])),
                _fmt(_median([r["result"]["output_bytes"] / 1e6 for r in mine]), 1),
                _fmt(_median([r["result"]["elapsed"] for r in mine]), 1),
                str(len(mine)),
            ]
        )
    growth = rss[large] - rss[small]
    via = sorted({str(r["result"].get("via")) for r in runs})
    return Summary(
        title=(
            f"3. Memory: streaming walk into JSON Lines ({', '.join(via)}), "
            f"{params['months']} monthly windows, fresh process per run"
        ),
        header=["organization", "peak RSS MB", "records", "output MB", "wall s", "runs"],
        rows=rows,
        targets=[
            Target(
                f"memory: RSS growth {small:,} -> {large:,} users",
                "< 25 MB",
                f"{growth:.1f} MB",
                growth < 25,
            )
        ],
        notes=["peak RSS is ru_maxrss of the child process that did only that walk."],
        numbers={"rss_mb": {str(k): v for k, v in rss.items()}, "growth_mb": growth},
    )


def _rate(runs: list[dict[str, Any]], params: dict[str, Any]) -> Summary:
    rate = params["rate"]
    achieved = _median([_rps(r) for r in runs])
    peak = _median([r["server"]["max_in_one_second"] for r in runs])
    rows = [
        [
            LABELS["ours"],
            _fmt(rate),
            _fmt(achieved, 1),
            _fmt(achieved / rate, 3),
            _fmt(peak),
            _fmt(peak / rate, 3),
            str(len(runs)),
        ]
    ]
    return Summary(
        title=(
            f"4. Rate limit adherence: rate_limit={rate:g}, {params['requests']:,} requests, "
            f"concurrency {params['concurrency']}"
        ),
        header=["contender", "R", "achieved/s", "vs R", "max in any 1 s", "vs R", "runs"],
        rows=rows,
        targets=[
            Target(
                "rate: max in any 1 s window",
                "<= 1.05 R",
                f"{peak / rate:.3f} R",
                peak <= 1.05 * rate,
            ),
            Target(
                "rate: achieved rate",
                ">= 0.95 R",
                f"{achieved / rate:.3f} R",
                achieved >= 0.95 * rate,
            ),
        ],
        notes=["max in any 1 s: the most request arrivals the server saw in a sliding 1 s window."],
        numbers={"achieved": achieved, "max_in_one_second": peak},
    )


def _storm(runs: list[dict[str, Any]], params: dict[str, Any]) -> Summary:
    rate = params["server_rate"]
    rows = []
    share: dict[str, float] = {}
    achieved: dict[str, float] = {}
    lost: dict[str, float] = {}
    for contender in ("ours", "aiohttp", "httpx"):
        mine = _by(runs, "contender", contender)
        share[contender] = _median(
            [r["server"]["rate_limited"] / max(1, r["server"]["total_requests"]) for r in mine]
        )
        achieved[contender] = _median([_rps(r) for r in mine])
        lost[contender] = _median([params["requests"] - r["result"]["ok"] for r in mine])
        rows.append(
            [
                LABELS[contender],
                _fmt(achieved[contender], 1),
                _fmt(achieved[contender] / rate, 3),
                f"{share[contender] * 100:.1f} %",
                _fmt(_median([r["server"]["total_requests"] for r in mine])),
                _fmt(lost[contender]),
                _fmt(_median([r["result"]["elapsed"] for r in mine]), 2),
                str(len(mine)),
            ]
        )
    return Summary(
        title=(
            f"5. 429 storm: server allows {rate:g} req/s, client unlimited, "
            f"{params['requests']:,} requests, concurrency {params['concurrency']}"
        ),
        header=[
            "contender",
            "achieved/s",
            "vs R",
            "answered 429",
            "attempts",
            "lost",
            "wall s",
            "runs",
        ],
        rows=rows,
        targets=[
            Target(
                "storm: share answered 429",
                "< 5 %",
                f"{share['ours'] * 100:.1f} %",
                share["ours"] < 0.05,
            ),
            Target(
                "storm: achieved rate",
                "near R (>= 0.90 R)",
                f"{achieved['ours'] / rate:.3f} R",
                achieved["ours"] >= 0.9 * rate,
            ),
            Target("storm: requests lost", "0", f"{lost['ours']:.0f}", lost["ours"] == 0),
        ],
        notes=[
            "The baselines retry a 429 after its Retry-After (whole seconds), each request on its "
            "own; they lose nothing but hammer the server."
        ],
        numbers={"share_429": share, "achieved": achieved, "lost": lost},
    )


#: Users per team in the scale scenario's organizations (about 500 teams for 100,000 users).
USERS_PER_TEAM = 200


def _scale(runs: list[dict[str, Any]], params: dict[str, Any]) -> Summary:
    small, large = params["users"]
    values: dict[int, dict[str, float]] = {}
    rows = []
    for users in (small, large):
        mine = _by(runs, "users", users)

        def of(kind: str, key: str, mine: list[dict[str, Any]] = mine) -> float:
            return _median([r["result"].get(key) for r in mine if r.get("kind") == kind])

        def server_cpu(kind: str, mine: list[dict[str, Any]] = mine) -> float:
            return _median([r["server"].get("cpu") for r in mine if r.get("kind") == kind])

        values[users] = v = {
            "listing_s": of("scale-list", "listing_s"),
            "planning_s": of("scale-list", "planning_s"),
            "list_cpu_s": of("scale-list", "cpu"),
            "list_rss_mb": of("scale-list", "max_rss_kb") / 1024,
            "walk_s": of("memory", "elapsed"),
            "walk_cpu_s": of("memory", "cpu"),
            "walk_server_cpu_s": server_cpu("memory"),
            "walk_rss_mb": of("memory", "max_rss_kb") / 1024,
            "records": of("memory", "records"),
            "dry_run_s": of("dry-run", "wall"),
            "dry_run_cpu_s": of("dry-run", "cpu"),
            "dry_run_rss_mb": of("dry-run", "max_rss_kb") / 1024,
        }
        rows.append(
            [
                f"{users:,} users, {max(2, users // USERS_PER_TEAM)} teams",
                _fmt(v["listing_s"], 2),
                _fmt(v["planning_s"], 3),
                _fmt(v["list_cpu_s"], 2),
                _fmt(v["list_rss_mb"], 1),
                _fmt(v["walk_s"], 1),
                f"{_fmt(v['walk_cpu_s'], 1)} / {_fmt(v['walk_server_cpu_s'], 1)}",
                _fmt(v["walk_rss_mb"], 1),
                _fmt(v["records"]),
                _fmt(v["dry_run_s"], 2),
                _fmt(v["dry_run_cpu_s"], 2),
                _fmt(v["dry_run_rss_mb"], 1),
            ]
        )
    ratio = {k: values[large][k] / values[small][k] for k in values[large] if values[small][k]}
    growth = {k: (values[large][k] - values[small][k]) for k in ("list_rss_mb", "walk_rss_mb")}
    factor = large / small
    rows.append(
        [
            f"ratio {large // small}x users",
            _fmt(ratio["listing_s"], 1),
            _fmt(ratio["planning_s"], 1),
            _fmt(ratio["list_cpu_s"], 1),
            _fmt(ratio["list_rss_mb"], 2),
            _fmt(ratio["walk_s"], 1),
            f"{_fmt(ratio['walk_cpu_s'], 1)} / {_fmt(ratio['walk_server_cpu_s'], 1)}",
            _fmt(ratio["walk_rss_mb"], 2),
            _fmt(ratio["records"], 1),
            _fmt(ratio["dry_run_s"], 1),
            _fmt(ratio["dry_run_cpu_s"], 1),
            _fmt(ratio["dry_run_rss_mb"], 2),
        ]
    )
    # Linear time grows by ``factor``; allow twice that for a shared machine, far below the
    # ``factor ** 2`` of anything quadratic. Wall times swing with the machine's other load,
    # CPU times much less, so both are shown.
    time_keys = ("listing_s", "planning_s", "walk_s", "dry_run_s")
    worst_time = max(ratio[k] for k in time_keys)
    cpu_keys = ("list_cpu_s", "walk_cpu_s", "walk_server_cpu_s", "dry_run_cpu_s")
    worst_cpu = max(ratio[k] for k in cpu_keys)
    return Summary(
        title=(
            f"6. Scale: organizations of {small:,} and {large:,} users "
            f"({USERS_PER_TEAM} per team), one monthly window at monthly granularity"
        ),
        header=[
            "organization",
            "listing s",
            "planning s",
            "listing CPU s",
            "listing RSS MB",
            "walk s",
            "walk CPU s client / server",
            "walk RSS MB",
            "records",
            "dry run s",
            "dry run CPU s",
            "dry run RSS MB",
        ],
        rows=rows,
        targets=[
            Target(
                f"scale: peak RSS of a streaming walk of {large:,} users",
                "< 150 MB",
                f"{values[large]['walk_rss_mb']:.1f} MB",
                values[large]["walk_rss_mb"] < 150,
            ),
            Target(
                f"scale: time, {small:,} -> {large:,} users (linear = {factor:.0f})",
                f"<= {2 * factor:.0f} (not quadratic)",
                f"{worst_time:.1f}",
                worst_time <= 2 * factor,
            ),
            Target(
                f"scale: CPU time, {small:,} -> {large:,} users (linear = {factor:.0f})",
                f"<= {2 * factor:.0f} (not quadratic)",
                f"{worst_cpu:.1f}",
                worst_cpu <= 2 * factor,
            ),
            Target(
                f"scale: walk memory growth, {small:,} -> {large:,} users",
                f"sub-linear (< {factor:.0f}x)",
                f"{ratio['walk_rss_mb']:.2f}x",
                ratio["walk_rss_mb"] < factor,
            ),
        ],
        notes=[
            "listing: list_members() (every user once, with all of the user's teams); "
            "planning: every (entity, window) unit of the walk; listing RSS is that child "
            "process's peak. walk: backfill() of one monthly window into JSON Lines, a fresh "
            "process. dry run: `tabnine-usage backfill --dry-run` in a fresh process.",
            "The ratio row divides the larger organization's figure by the smaller's; times "
            "include the fake server's share on a shared machine. CPU s: the client process's "
            "CPU time (listing: listing and planning), and for the walk also the fake "
            "server's.",
        ],
        numbers={
            "values": {str(k): v for k, v in values.items()},
            "ratios": ratio,
            "growth": growth,
        },
    )


def _sync(runs: list[dict[str, Any]], params: dict[str, Any]) -> Summary:
    rows = []
    medians: dict[str, dict[str, float]] = {}
    labels = {
        "full": f"full backfill from {params['since']} (first sync)",
        "plan": "next day's planning only (dry run)",
        "daily": "next day's sync",
    }
    for phase in ("full", "plan", "daily"):
        mine = _by(runs, "phase", phase)
        m = {
            "requests": _median([r["server"]["total_requests"] for r in mine]),
            "wall": _median([r["result"]["elapsed"] for r in mine]),
            "rss": _median([r["result"]["max_rss_kb"] / 1024 for r in mine]),
            "rows": _median([r["result"]["records"] for r in mine]),
            "units": _median([r["result"]["units"] for r in mine]),
        }
        medians[phase] = m
        rows.append(
            [
                labels[phase],
                _fmt(m["requests"]),
                _fmt(m["wall"], 1),
                _fmt(m["rss"], 1),
                _fmt(m["units"]),
                _fmt(m["rows"]),
                str(len(mine)),
            ]
        )
    share = medians["daily"]["requests"] / medians["full"]["requests"]
    return Summary(
        title=(
            f"7. Dataset sync: {params['users']:,} users, {params['teams']} teams, stream "
            f"{params['streams']}, daily rows, month windows, since {params['since']}, "
            f"concurrency {params['concurrency']}, SQLite"
        ),
        header=["run", "requests", "wall s", "peak RSS MB", "units", "rows", "runs"],
        rows=rows,
        targets=[
            Target(
                "sync: daily run's requests vs a full re-backfill",
                "< 10 %",
                f"{share * 100:.1f} %",
                share < 0.10,
            )
        ],
        notes=[
            "Both runs write into the same SQLite file: the first sync fetches the year (what a "
            "re-backfill costs every time), the next day's run only the open month and the "
            "month in the lookback. Requests include listings and the v2 probe.",
            "The planning row is the start of the next day's run alone (roster listing and "
            "the dataset's state read into the planner, as `--dry-run`); its units are those "
            "it finds due, the other rows' those written. Peak RSS is the whole process's, "
            "interpreter and imports included.",
        ],
        numbers={"medians": medians, "daily_share": share},
    )


_SUMMARISERS = {
    "overhead": _overhead,
    "walk": _walk,
    "memory": _memory,
    "rate": _rate,
    "storm": _storm,
    "scale": _scale,
    "sync": _sync,
}
