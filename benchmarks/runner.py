"""Run the scenarios against a fake server in its own process, and report.

``python -m benchmarks`` (or ``make bench``) runs everything; ``--quick`` finishes in under a
minute; ``--smoke`` is a seconds-long check that the harness works (the test suite runs it).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tabnine_usage_async.testing import Dataset, FakeTabnineProcess, fake_tabnine_process

from .report import describe_machine, render
from .scenarios import (
    CONCURRENCY,
    MODES,
    OVERHEAD_ROWS,
    SCENARIOS,
    SEED,
    SLOW_CONCURRENCY,
    SYNC_DAILY_NOW,
    SYNC_FIRST_NOW,
    SYNC_RUNS,
    SYNC_SINCE,
    SYNC_USERS,
    TEAMS,
    USERS_PER_TEAM,
    WALK_END,
    WALK_JITTER,
    Mode,
    Summary,
    summarise,
    walk_start,
)

__all__ = ["main"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _cpus() -> tuple[set[int] | None, set[int] | None]:
    """One core for the fake server, the others for the client, when there are two or more."""
    try:
        available = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return None, None
    if len(available) < 2:
        return None, None
    return {available[0]}, set(available[1:])


SERVER_CPUS, CLIENT_CPUS = _cpus()


def _pin(pid: int, cpus: set[int] | None) -> None:
    if cpus is not None:
        os.sched_setaffinity(pid, cpus)


@contextmanager
def _server(**options: Any) -> Iterator[FakeTabnineProcess]:
    with fake_tabnine_process(seed=SEED, teams=TEAMS, **options) as fake:
        _pin(fake.process.pid, SERVER_CPUS)
        yield fake


@dataclass
class StaticServer:
    """A static or replay server in a child process: the same surface as a fake process."""

    base_url: str
    token: str
    process: subprocess.Popen[str]

    def reset_stats(self) -> None:
        """Zero the request counter."""
        request = urllib.request.Request(self.base_url + "/__fake__/reset-stats", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass


#: The one user and week every client-bound request asks for (7 daily blocks or buckets).
STATIC_WEEK = ("2025-12-01T00:00:00Z", "2025-12-08T00:00:00Z")


def _static_bodies(workdir: Path) -> tuple[dict[str, str], str, str]:
    """Real v1 and v2 answers of the fake server, saved to files: {prefix: file}, org, user.

    The user is the one of the first twenty whose v1 week is the longest (the most active).
    """
    data = Dataset(seed=SEED, teams=TEAMS, users=50)
    org_id = data.organization.id
    best: tuple[int, str, dict[str, bytes]] | None = None
    with _server(users=50) as fake:
        for user in data.users[:20]:
            bodies = {}
            for api in ("v1", "v2"):
                query = urllib.parse.urlencode(
                    {
                        "organizationId": org_id,
                        "userId": user.id,
                        "from": STATIC_WEEK[0],
                        "to": STATIC_WEEK[1],
                        "granularity": "daily",
                    }
                )
                request = urllib.request.Request(
                    f"{fake.base_url}/api/{api}/user/usage?{query}", headers=fake.headers
                )
                with urllib.request.urlopen(request, timeout=30) as reply:
                    bodies[api] = reply.read()
            if best is None or len(bodies["v1"]) > best[0]:
                best = (len(bodies["v1"]), user.id, bodies)
    assert best is not None
    files = {}
    for api, body in best[2].items():
        path = workdir / f"static-{api}.json"
        path.write_bytes(body)
        files[f"/api/{api}/"] = str(path)
    return files, org_id, best[1]


@contextmanager
def _server_process(module: str, config: Path) -> Iterator[tuple[subprocess.Popen[str], Any]]:
    """Run ``python -m module config`` pinned to the server core; yield it and its ready line."""
    command = [sys.executable, "-m", module, str(config)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        _pin(process.pid, SERVER_CPUS)
        yield process, ready
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def _static_server(workdir: Path, bodies: dict[str, str]) -> Iterator[StaticServer]:
    mapping = workdir / "static-bodies.json"
    mapping.write_text(json.dumps(bodies), encoding="utf-8")
    with _server_process("benchmarks.static_server", mapping) as (process, ready):
        yield StaticServer(ready["base_url"], ready["token"], process)


@contextmanager
def _replay_server(
    workdir: Path, fake: FakeTabnineProcess, latencies: list[tuple[float, float]]
) -> Iterator[list[StaticServer]]:
    """``benchmarks.replay_server`` in front of ``fake``: one listener per (latency, jitter) ms.

    The listeners share one process, one recording and one set of counters.
    """
    config = {
        "upstream": fake.base_url,
        "token": fake.token,
        "seed": SEED,
        "listeners": [
            {
                "latency_ms": latency,
                "jitter_ms": jitter,
                "distribution": "uniform" if jitter else "fixed",
            }
            for latency, jitter in latencies
        ],
    }
    path = workdir / "replay.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    with _server_process("benchmarks.replay_server", path) as (process, ready):
        yield [StaticServer(url, ready["token"], process) for url in ready["base_urls"]]


def _server_stats(fake: FakeTabnineProcess | StaticServer) -> dict[str, Any]:
    with urllib.request.urlopen(fake.base_url + "/__fake__/stats?log=0", timeout=30) as reply:
        data: dict[str, Any] = json.load(reply)
    keys: tuple[str, ...] = ("total_requests", "max_in_flight", "rate_limited", "max_in_one_second")
    # A replay server also counts the requests it had recorded (hits) and had not (misses).
    keys += tuple(key for key in ("hits", "misses", "late_ms") if key in data)
    return {key: data[key] for key in keys} | {"per_second": data["per_second"]}


def _process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux ``/proc``), or ``None``."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After the command name: state is field 3, utime 14 and stime 15 (proc(5)), in ticks.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Runner:
    """Runs child processes, one workload each, and keeps every run."""

    def __init__(self, workdir: Path, verbose: bool) -> None:
        self.workdir = workdir
        self.verbose = verbose
        self.runs: list[dict[str, Any]] = []
        self._count = 0

    def log(self, text: str) -> None:
        if self.verbose:
            print(text, file=sys.stderr, flush=True)

    def _child(
        self, scenario: str, fake: FakeTabnineProcess | StaticServer, spec: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Run ``spec`` in a fresh child process against ``fake``: its result and server stats."""
        self._count += 1
        spec = {"base_url": fake.base_url, "token": fake.token, **spec}
        path = self.workdir / f"spec-{self._count}.json"
        path.write_text(json.dumps(spec), encoding="utf-8")
        fake.reset_stats()
        server_cpu_before = _process_cpu(fake.process.pid)
        command = [sys.executable, "-m", "benchmarks.child", str(path)]
        child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        _pin(child.pid, CLIENT_CPUS)
        stdout, _ = child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"{scenario}/{spec['contender']} failed (exit {child.returncode})")
        result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
        server_cpu_after = _process_cpu(fake.process.pid)
        server = _server_stats(fake)
        if server_cpu_before is not None and server_cpu_after is not None:
            # Includes answering the stats reset, which is negligible next to a run.
            server["cpu"] = server_cpu_after - server_cpu_before
        return result, server

    def warm_up(self, scenario: str, replay: StaticServer, spec: dict[str, Any]) -> None:
        """An untimed, unrecorded run that fills a replay server's recording."""
        result, server = self._child(scenario, replay, spec)
        self.log(
            f"  {scenario:<8} {spec['contender']:<10} {'warm-up':<14} "
            f"{result['elapsed']:7.2f} s  recorded={server.get('misses', 0)}"
        )

    def run(
        self,
        scenario: str,
        fake: FakeTabnineProcess | StaticServer,
        spec: dict[str, Any],
        **labels: Any,
    ) -> dict[str, Any]:
        """Run ``spec`` in a fresh child process against ``fake``; record the run.

        Against a replay server, the run fails if any request missed the recording: it would
        have waited on the fake server, which is what the replay takes out of the measurement.
        """
        result, server = self._child(scenario, fake, spec)
        if server.get("misses"):
            raise RuntimeError(
                f"{scenario}/{spec['contender']}: {server['misses']} requests missed the "
                "replay recording in a timed run"
            )
        record = {
            "scenario": scenario,
            "contender": spec["contender"],
            "kind": spec["kind"],
            **labels,
            "result": result,
            "server": server,
        }
        self.runs.append(record)
        shown = " ".join(f"{k}={v}" for k, v in labels.items())
        self.log(
            f"  {scenario:<8} {spec['contender']:<10} {shown:<14} {result['elapsed']:7.2f} s  "
            f"ok={result['ok']} server={server['total_requests']} 429={server['rate_limited']}"
            + (f" misses={server['misses']}" if "misses" in server else "")
        )
        if result["failed"]:
            self.log(f"  warning: {result['failed']} requests failed in this run")
        return record


def _months(months: int) -> list[list[str]]:
    """``months`` consecutive whole-month windows ending at ``WALK_END``, as wire strings."""
    out = []
    start = walk_start(months)
    for i in range(months):
        year, month = int(start[:4]), int(start[5:7]) + i
        year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
        nyear, nmonth = year + month // 12, month % 12 + 1
        out.append(
            [f"{year:04d}-{month:02d}-01T00:00:00Z", f"{nyear:04d}-{nmonth:02d}-01T00:00:00Z"]
        )
    return out


def _user_requests(users: int, count: int) -> dict[str, Any]:
    data = Dataset(seed=SEED, teams=TEAMS, users=users)
    return {
        "org_id": data.organization.id,
        "user_ids": [user.id for user in data.users],
        "windows": _months(6),
        "count": count,
        "granularity": "daily",
    }


def _interleaved(runner: Runner, runs: int, contenders: tuple[str, ...], go: Any) -> None:
    for run in range(runs):
        for contender in contenders:
            go(contender, run)


def overhead(runner: Runner, mode: Mode) -> dict[str, Any]:
    bodies, org_id, user_id = _static_bodies(runner.workdir)
    params = {
        "requests": mode.overhead_requests,
        "concurrency": CONCURRENCY,
        "body_bytes": {
            prefix.strip("/").rsplit("/", 1)[-1]: Path(file).stat().st_size
            for prefix, file in bodies.items()
        },
    }
    requests = {
        "org_id": org_id,
        "user_ids": [user_id],
        "windows": [list(STATIC_WEEK)],
        "count": mode.overhead_requests,
        "granularity": "daily",
    }
    with _static_server(runner.workdir, bodies) as server:
        for run in range(mode.runs):
            for row in OVERHEAD_ROWS:
                spec = {
                    "kind": "requests",
                    "contender": row.contender,
                    "concurrency": CONCURRENCY,
                    "api": row.api,
                    "speed": row.speed,
                    "loop": row.loop,
                }
                mine = requests
                if row.contender == "httpx":
                    # Twenty times slower than the others and not a target: a quarter of the
                    # requests gives the same rate.
                    mine = requests | {"count": max(1, mode.overhead_requests // 4)}
                runner.run("overhead", server, spec | mine, run=run, row=row.key)
    return params


def _warm_up(
    runner: Runner, replay: StaticServer, spec: dict[str, Any], contenders: tuple[str, ...]
) -> None:
    """One untimed run of each contender, so the replay server holds every answer it will need.

    Each contender builds its own URLs (query order, paging), so each needs its own pass. The
    replay server's listeners share the recording, and the walk at concurrency 256 asks for the
    same URLs as at 64: one pass over the fast listener serves every timed run.
    """
    for contender in contenders:
        runner.warm_up("walk", replay, spec | {"contender": contender})


def walk(runner: Runner, mode: Mode) -> dict[str, Any]:
    params = {
        "users": mode.walk_users,
        "teams": TEAMS,
        "months": mode.walk_months,
        "latency_ms": mode.walk_latency_ms,
        "concurrency": CONCURRENCY,
        "granularity": "monthly",
        "sequential_sample": mode.sequential_sample,
    }
    walk_spec = {
        "kind": "walk",
        "concurrency": CONCURRENCY,
        "start": walk_start(mode.walk_months),
        "end": WALK_END,
        # One block per monthly window: what the target was set on, and a short warm-up.
        "granularity": "monthly",
        "window": "month",
        "sample_units": mode.sequential_sample,
    }
    # The fake server answers without latency, once per distinct request, behind a replay
    # server that records its answers and plays them back after the latency: the fake's own
    # CPU per answer would otherwise pace a burst of 64 answers (see the README).
    contenders = ("ours", "aiohttp", "httpx", "sequential")
    with ExitStack() as stack:
        fake = stack.enter_context(_server(users=mode.walk_users))
        jitter = mode.walk_latency_ms * WALK_JITTER
        latencies = [
            (mode.walk_latency_ms, 0.0),
            (mode.walk_latency_ms, jitter),
            (mode.slow_latency_ms, 0.0),
        ]
        fast, jittered, slow = stack.enter_context(_replay_server(runner.workdir, fake, latencies))
        _warm_up(runner, fast, walk_spec, contenders)

        def go(contender: str, run: int) -> None:
            runner.run("walk", fast, walk_spec | {"contender": contender}, run=run, jitter_ms=0)

        # httpx is ten times slower here and not a target: one run of it is enough.
        _interleaved(runner, mode.walk_runs, ("ours", "aiohttp"), go)
        go("httpx", 0)
        # Slow by design, so once: it only shows the "before" picture.
        go("sequential", 0)
        # The same mean latency with jitter, as on a real network. With a fixed latency, the
        # requests that start together come back together and queue for one core on each side,
        # so the burst never spreads out; this pair of rows shows how much of the gap that is.
        params["jitter_ms"] = jitter

        def go_jittered(contender: str, run: int) -> None:
            spec = walk_spec | {"contender": contender}
            runner.run("walk", jittered, spec, run=run, jitter_ms=jitter)

        _interleaved(runner, mode.walk_runs, ("ours", "aiohttp"), go_jittered)
        # A slow private installation: ten times the latency, four times the requests in flight.
        params["slow_latency_ms"] = mode.slow_latency_ms
        params["slow_concurrency"] = SLOW_CONCURRENCY
        slow_spec = walk_spec | {"concurrency": SLOW_CONCURRENCY}

        def go_slow(contender: str, run: int) -> None:
            spec = slow_spec | {"contender": contender}
            labels = {"latency_ms": mode.slow_latency_ms, "concurrency": SLOW_CONCURRENCY}
            runner.run("walk", slow, spec, run=run, jitter_ms=0, **labels)

        _interleaved(runner, mode.walk_runs, ("ours", "aiohttp"), go_slow)
    return params


def memory(runner: Runner, mode: Mode) -> dict[str, Any]:
    small, large = mode.memory_users
    params = {"users": [small, large], "months": 1, "concurrency": CONCURRENCY}
    with ExitStack() as stack:
        fakes = {users: stack.enter_context(_server(users=users)) for users in (small, large)}
        for run in range(mode.memory_runs):
            for users, fake in fakes.items():
                output = runner.workdir / f"memory-{users}-{run}.jsonl"
                spec = {
                    "kind": "memory",
                    "contender": "ours",
                    "concurrency": CONCURRENCY,
                    "start": walk_start(1),
                    "end": WALK_END,
                    "granularity": "daily",
                    "window": "month",
                    "output": str(output),
                }
                runner.run("memory", fake, spec, run=run, users=users)
                for leftover in runner.workdir.glob(f"memory-{users}-{run}.jsonl*"):
                    leftover.unlink()
    return params


def rate(runner: Runner, mode: Mode) -> dict[str, Any]:
    count = int(mode.rate * mode.rate_seconds)
    params = {"rate": mode.rate, "requests": count, "concurrency": CONCURRENCY}
    requests = _user_requests(500, count)
    with _server(users=500) as fake:
        for run in range(mode.limited_runs):
            spec = {
                "kind": "requests",
                "contender": "ours",
                "concurrency": CONCURRENCY,
                "rate_limit": mode.rate,
            }
            runner.run("rate", fake, spec | requests, run=run)
    return params


def storm(runner: Runner, mode: Mode) -> dict[str, Any]:
    count = int(mode.storm_rate * mode.storm_seconds)
    params = {"server_rate": mode.storm_rate, "requests": count, "concurrency": CONCURRENCY}
    requests = _user_requests(500, count)
    with _server(users=500, rate_limit=mode.storm_rate) as fake:

        def go(contender: str, run: int) -> None:
            spec = {"kind": "requests", "contender": contender, "concurrency": CONCURRENCY}
            # The server's window must be empty before each run, whoever ran before.
            time.sleep(1.1)
            runner.run("storm", fake, spec | requests, run=run)

        _interleaved(runner, mode.limited_runs, ("ours", "aiohttp", "httpx"), go)
    return params


def scale(runner: Runner, mode: Mode) -> dict[str, Any]:
    small, large = mode.scale_users
    params = {"users": [small, large], "concurrency": CONCURRENCY}
    window = {
        "start": walk_start(1),
        "end": WALK_END,
        "granularity": "monthly",
        "window": "month",
        "concurrency": CONCURRENCY,
    }
    for users in (small, large):
        teams = max(2, users // USERS_PER_TEAM)
        # A big dataset takes a while to build on a busy machine.
        with fake_tabnine_process(seed=SEED, teams=teams, users=users, startup_timeout=900) as fake:
            _pin(fake.process.pid, SERVER_CPUS)
            labels = {"users": users}
            runner.run(
                "scale", fake, window | {"kind": "scale-list", "contender": "ours"}, **labels
            )
            output = runner.workdir / f"scale-{users}.jsonl"
            spec = window | {"kind": "memory", "contender": "ours", "output": str(output)}
            runner.run("scale", fake, spec, **labels)
            dry = window | {
                "kind": "dry-run",
                "contender": "ours",
                "output": str(runner.workdir / f"dry-{users}.jsonl"),
            }
            runner.run("scale", fake, dry, **labels)
            for leftover in runner.workdir.glob(f"scale-{users}.jsonl*"):
                leftover.unlink()
    return params


def sync(runner: Runner, mode: Mode) -> dict[str, Any]:
    users, since = SYNC_USERS[mode.name], SYNC_SINCE[mode.name]
    params = {
        "users": users,
        "teams": TEAMS,
        "streams": "usage",
        "since": since,
        "concurrency": CONCURRENCY,
    }
    with _server(users=users) as fake:
        for run in range(SYNC_RUNS[mode.name]):
            target = runner.workdir / f"sync-{run}.sqlite"
            spec = {
                "kind": "sync",
                "contender": "ours",
                "concurrency": CONCURRENCY,
                "target": str(target),
                "since": since,
                "streams": "usage",
            }
            runner.run("sync", fake, spec | {"now": SYNC_FIRST_NOW}, run=run, phase="full")
            planning = spec | {"now": SYNC_DAILY_NOW, "plan_only": True}
            runner.run("sync", fake, planning, run=run, phase="plan")
            runner.run("sync", fake, spec | {"now": SYNC_DAILY_NOW}, run=run, phase="daily")
            for leftover in runner.workdir.glob(f"sync-{run}.sqlite*"):
                leftover.unlink()
    return params


_SCENARIO_FUNCTIONS = {
    "overhead": overhead,
    "walk": walk,
    "memory": memory,
    "rate": rate,
    "storm": storm,
    "scale": scale,
    "sync": sync,
}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Compare tabnine-usage-async with aiohttp and httpx loops on a fake server.",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller sizes; under a minute")
    size.add_argument("--smoke", action="store_true", help="tiny sizes; checks the harness only")
    parser.add_argument(
        "--only",
        default=",".join(s.key for s in SCENARIOS),
        help="comma-separated scenarios to run (default: all): "
        + ", ".join(s.key for s in SCENARIOS),
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=HERE / "results",
        help="where the JSON of every run goes (default: benchmarks/results)",
    )
    parser.add_argument(
        "--markdown",
        type=Path,
        default=None,
        help="where the table goes (default: benchmarks/RESULTS.md, except with --smoke)",
    )
    parser.add_argument("--no-markdown", action="store_true", help="do not write the table file")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios, print the table, write the JSON and the Markdown. Exit code."""
    args = _parse(argv)
    # Stop like Ctrl+C on SIGTERM, so the fake servers and child processes are cleaned up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    mode = MODES["smoke" if args.smoke else "quick" if args.quick else "full"]
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(chosen).difference(_SCENARIO_FUNCTIONS)
    if unknown:
        print(f"error: unknown scenario(s) {sorted(unknown)}", file=sys.stderr)
        return 2
    scenarios = [s for s in SCENARIOS if s.key in chosen]
    machine = describe_machine()
    started = datetime.now(timezone.utc)
    began = time.monotonic()
    summaries: list[Summary] = []
    parameters: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tabnine-bench-") as workdir:
        runner = Runner(Path(workdir), verbose=not args.quiet)
        for scenario in scenarios:
            runner.log(f"{scenario.title} ({mode.name})")
            parameters[scenario.key] = _SCENARIO_FUNCTIONS[scenario.key](runner, mode)
            mine = [r for r in runner.runs if r["scenario"] == scenario.key]
            summaries.append(summarise(scenario.key, mine, parameters[scenario.key]))
    when = started.strftime("%Y-%m-%d %H:%M UTC")
    command = (
        "python -m benchmarks" + {"full": "", "quick": " --quick", "smoke": " --smoke"}[mode.name]
    )
    if len(scenarios) != len(SCENARIOS):
        command += f" --only {','.join(s.key for s in scenarios)}"
    text = render(summaries, machine, mode=mode.name, command=command, when=when)
    print(text)
    document = {
        "mode": mode.name,
        "started": started.isoformat(),
        "duration": time.monotonic() - began,
        "machine": machine,
        "pinning": {
            "server_cpus": sorted(SERVER_CPUS) if SERVER_CPUS else None,
            "client_cpus": sorted(CLIENT_CPUS) if CLIENT_CPUS else None,
        },
        "parameters": parameters,
        "summary": {
            s.title: {
                "numbers": s.numbers,
                "targets": [t.__dict__ for t in s.targets],
            }
            for s in summaries
        },
        "runs": runner.runs,
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    result_path = args.results_dir / f"{stamp}-{mode.name}.json"
    result_path.write_text(json.dumps(document, indent=1, default=str), encoding="utf-8")
    print(f"\nEvery run: {_shown(result_path)}", file=sys.stderr)
    markdown = args.markdown or (None if mode.name == "smoke" else HERE / "RESULTS.md")
    if markdown is not None and not args.no_markdown:
        markdown.write_text(text, encoding="utf-8")
        print(f"Table: {_shown(markdown)}", file=sys.stderr)
    return 0


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
