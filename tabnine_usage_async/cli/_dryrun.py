"""``backfill --dry-run``: list the organization like the backfill would, fetch no usage, and
print what would be fetched with an estimate of how long it would take."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

import attrs

from .._backfill_jobs import BackfillJobs
from ..client import TabnineClient
from ..listing import list_members
from ..windows import format_datetime

if TYPE_CHECKING:
    from ._backfill import BackfillPlan

__all__ = ["dry_run"]


@attrs.frozen
class Census:
    """What a walk of the organization would fetch, from its listings alone."""

    counts: dict[str, int]  # entities per scope
    listing_requests: int
    latency: float  # mean seconds per listing request

    def units(self, windows: int) -> int:
        """Usage requests: every entity over every window."""
        return sum(self.counts.values()) * windows


async def census(client: TabnineClient, plan: BackfillPlan) -> Census:
    """List the organization, its teams and their users the way the walk does, and count."""
    requests_before = client.stats.requests
    began = time.monotonic()
    await client.get_organization()
    seconds = time.monotonic() - began
    team_ids: tuple[str, ...] = ()
    users = 0
    roster_streams = plan.streams is not None and any(s.source == "roster" for s in plan.streams)
    if "user" in plan.scopes or roster_streams:
        roster = await list_members(client, include_unassigned=plan.include_unassigned)
        team_ids, users, seconds = roster.team_ids, len(roster.members), seconds + roster.seconds
    elif "team" in plan.scopes or roster_streams:
        began = time.monotonic()
        team_ids = tuple([team.id async for team in client.iter_teams()])
        seconds += time.monotonic() - began
    listing_requests = client.stats.requests - requests_before
    counts = {
        "organization": 1 if "organization" in plan.scopes else 0,
        "team": len(team_ids) if "team" in plan.scopes else 0,
        "user": users if "user" in plan.scopes else 0,
    }
    latency = seconds / listing_requests if listing_requests else 0.0
    return Census(counts, listing_requests, latency)


async def dry_run(client: TabnineClient, args: argparse.Namespace, plan: BackfillPlan) -> None:
    """List the organization like the backfill would; print the plan and a duration estimate."""
    found = await census(client, plan)
    # Windows not ended yet are not fetched by the run (see the backfill's note).
    per_stream = stream_requests(plan, found)
    usage_requests = (
        found.units(len(plan.planned)) if per_stream is None else sum(per_stream.values())
    )
    by_concurrency = usage_requests * found.latency / client.max_concurrency
    by_rate = usage_requests / args.rate_limit if args.rate_limit else 0.0
    estimate = max(by_concurrency, by_rate)
    limit = f"{args.rate_limit:g} requests/s" if args.rate_limit else "no rate limit"
    bound = "the rate limit" if by_rate > by_concurrency else "the latency"
    counts = found.counts
    print(
        "dry run: listed the organization; no usage was fetched\n"
        f"  organization: {counts['organization']}\n"
        f"  teams: {counts['team']}\n"
        f"  users: {counts['user']}"
        f"{'' if plan.include_unassigned else ' (users in no team left out)'}\n"
        f"  windows: {len(plan.windows)} ({plan.window_name}) over "
        f"{format_datetime(plan.start)} .. {format_datetime(plan.end)}, "
        f"granularity {plan.granularity.value}"
        f"{_not_ended(plan)}\n"
        f"  usage requests: {usage_requests}{_per_stream(per_stream)}\n"
        f"  listing requests: {found.listing_requests}, "
        f"mean latency {found.latency * 1000:.1f} ms\n"
        f"  estimated duration: {duration(estimate)} at concurrency {client.max_concurrency}, "
        f"{limit} (bound by {bound})\n"
        f"  {_outputs(plan)}, checkpoint: {plan.checkpoint}",
        flush=True,
    )


def stream_requests(plan: BackfillPlan, found: Census) -> dict[str, int] | None:
    """Requests per stream of a backfill with streams (``None`` without)."""
    if plan.streams is None:
        return None
    jobs = BackfillJobs(plan.streams, plan.planned, plan.granularity.value, plan.scopes, plan.now)
    return jobs.fetches(found.counts)


def _per_stream(per_stream: dict[str, int] | None) -> str:
    if per_stream is None:
        return ""
    lines = "".join(f"\n    {name}: {count}" for name, count in per_stream.items())
    return (
        f"; per stream (streams of one source share its requests, users and teams come "
        f"from the listing):{lines}"
    )


def _outputs(plan: BackfillPlan) -> str:
    if plan.streams is None:
        return f"output: {plan.output} ({plan.format})"
    return "outputs: " + ", ".join(str(p) for p in plan.outputs.values())


def _not_ended(plan: BackfillPlan) -> str:
    left = len(plan.windows) - len(plan.planned)
    return f" ({left} not ended yet: left for a later run)" if left else ""


def duration(seconds: float) -> str:
    """A duration for people: seconds, minutes and seconds, or hours and minutes."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
