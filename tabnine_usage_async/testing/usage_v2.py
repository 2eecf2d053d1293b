"""Tabnine 6.2 usage numbers: v2 usage buckets and agent usage, from the same daily activity.

Everything here extends the per-user, per-day activity of :class:`~.usage.UsageEngine`: a v2
bucket's code completions, chat messages and chat lines are the v1 block's completions, chat
interactions and chat lines of the same users and days, so v1 and v2 agree wherever both have
data. New numbers (tokens, models, agent lines, agent types) come from further bit planes of the
same days, so they too are per-user sums and every aggregate agrees exactly: a team is the sum of
its members, the organization the sum of all users, a week the sum of its days, and distinct
active users are popcounts of OR-ed masks.

Per user and day:

- chat: the day's chat goes to one of four chat models (two planes pick it); input and output
  tokens are ``1200`` and ``350`` per message plus a few hundred drawn tokens.
- agent: ``userInitiatedMessages`` are the v1 agent ``sessions``; agent ``messages`` (v2) and
  ``interactions`` (agent usage) are the v1 ``toolCalls``. The day's agent work runs in one agent
  type (``cli`` on about a quarter of user-days, else ``ide``) with one of four agent models.
  Accepted lines never exceed added or removed lines.
- cost: integer micro-dollars per token (input and output price per model); the JSON shows the
  dollar amount rounded to six decimals, so sums of breakdown costs match totals to rounding.

Per-model rows (``chat.models``, ``agent.models``) are written only for ``granularity=all``, as
the 6.2 description says the live server does; agent usage always carries its breakdowns. Models
and agent types without activity in a period are left out of the breakdowns.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ._timefmt import format_timestamp
from .usage import (
    AGENT_CLI,
    AGENT_IN,
    AGENT_MODEL,
    AGENT_OUT,
    AGENT_SESSIONS,
    AGENT_TOOL_CALLS,
    CHAT_IN,
    CHAT_INTERACTIONS,
    CHAT_MODEL,
    CHAT_OUT,
    LINES_ADDED,
    LINES_ADDED_ACCEPTED,
    LINES_REMOVED,
    LINES_REMOVED_ACCEPTED,
    BlockTotals,
    UsageEngine,
    weighted,
)

__all__ = [
    "AGENT_MODELS",
    "AGENT_TYPES",
    "CHAT_MODELS",
    "Model",
    "V2Engine",
    "V2Totals",
    "agent_point_json",
    "v2_bucket_json",
]


@dataclass(frozen=True, slots=True)
class Model:
    """A model: ``id`` is the internal uuid of v2 rows, ``name`` the agent-usage label."""

    id: str
    name: str
    input_micros: int  # micro-dollars per input token
    output_micros: int  # micro-dollars per output token


CHAT_MODELS = (
    Model("3f1c2b9e-6a3d-4f0e-9b1a-5c7d2e8f4a01", "claude-sonnet-4-5", 3, 15),
    Model("8d4e5f6a-1b2c-4d3e-8f9a-0b1c2d3e4f02", "gpt-5", 1, 10),
    Model("a7b8c9d0-e1f2-4a3b-9c4d-5e6f7a8b9c03", "gemini-2-5-pro", 1, 10),
    Model("c0d1e2f3-a4b5-4c6d-8e7f-9a0b1c2d3e04", "tabnine-protected", 0, 0),
)
AGENT_MODELS = (
    Model("3f1c2b9e-6a3d-4f0e-9b1a-5c7d2e8f4a01", "claude-sonnet-4-5", 3, 15),
    Model("5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a805", "claude-opus-4-1", 15, 75),
    Model("8d4e5f6a-1b2c-4d3e-8f9a-0b1c2d3e4f02", "gpt-5", 1, 10),
    Model("b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d06", "qwen3-coder", 0, 1),
)
AGENT_TYPES = ("ide", "cli")

# Indexes into an agent cell's counts.
SESSIONS, INTERACTIONS, ADDED, ADDED_OK, REMOVED, REMOVED_OK, TOKENS_IN, TOKENS_OUT = range(8)
_CELL_FIELDS = 8


@dataclass(frozen=True, slots=True)
class V2Totals:
    """Summed 6.2 metrics for one entity over one set of days.

    ``base`` holds the v1 numbers. ``chat_models[m]`` is ``(users, messages, input, output)``;
    ``agent_cells[t][m]`` the counts of agent type ``t`` and agent model ``m``;
    ``agent_type_users[t]`` and ``agent_model_users[m]`` are distinct users.
    """

    base: BlockTotals
    chat_models: tuple[tuple[int, int, int, int], ...]
    agent_cells: tuple[tuple[tuple[int, ...], ...], ...]
    agent_type_users: tuple[int, ...]
    agent_model_users: tuple[int, ...]

    def agent_sum(self, index: int, agent_type: int | None = None, model: int | None = None) -> int:
        """The sum of count ``index`` over the cells of one type and/or model (or all)."""
        return sum(
            cells[m][index]
            for t, cells in enumerate(self.agent_cells)
            if agent_type is None or t == agent_type
            for m in range(len(cells))
            if model is None or m == model
        )

    def agent_cost_micros(self, agent_type: int | None = None, model: int | None = None) -> int:
        """The cost in micro-dollars of the cells of one type and/or model (or all)."""
        total = 0
        for t, cells in enumerate(self.agent_cells):
            if agent_type is not None and t != agent_type:
                continue
            for m, cell in enumerate(cells):
                if model is None or m == model:
                    price = AGENT_MODELS[m]
                    total += (
                        cell[TOKENS_IN] * price.input_micros
                        + cell[TOKENS_OUT] * price.output_micros
                    )
        return total


def _pick(planes: tuple[int, ...], selector: tuple[int, int], value: int) -> int:
    low, high = planes[selector[0]], planes[selector[1]]
    return (low if value & 1 else ~low) & (high if value & 2 else ~high)


def _agent_counts(cell: int, p: tuple[int, ...]) -> tuple[int, ...]:
    sessions = cell.bit_count() + weighted(cell, (p[i] for i in AGENT_SESSIONS))
    interactions = 3 * sessions + weighted(cell, (p[i] for i in AGENT_TOOL_CALLS))
    added_planes = [p[i] for i in LINES_ADDED]
    removed_planes = [p[i] for i in LINES_REMOVED]
    added_ok = [a & p[i] for a, i in zip(added_planes, LINES_ADDED_ACCEPTED, strict=True)]
    removed_ok = [r & p[i] for r, i in zip(removed_planes, LINES_REMOVED_ACCEPTED, strict=True)]
    return (
        sessions,
        interactions,
        5 * sessions + weighted(cell, added_planes),
        4 * sessions + weighted(cell, added_ok),
        2 * sessions + weighted(cell, removed_planes),
        sessions + weighted(cell, removed_ok),
        9000 * interactions + (weighted(cell, (p[i] for i in AGENT_IN)) << 9),
        700 * interactions + (weighted(cell, (p[i] for i in AGENT_OUT)) << 6),
    )


class V2Engine:
    """Computes :class:`V2Totals` over the days and users of a :class:`UsageEngine`."""

    def __init__(self, engine: UsageEngine) -> None:
        self._engine = engine
        self._cache: OrderedDict[tuple[str, int, int], V2Totals] = OrderedDict()
        self._cache_size = 50_000
        engine.derived_caches.append(self._cache)

    def totals(
        self, first_day: int, end_day: int, members: int, cache_key: str | None = None
    ) -> V2Totals:
        """Totals for ``members`` over day ordinals ``[first_day, end_day)`` (cached by key)."""
        key = (cache_key, first_day, end_day) if cache_key is not None else None
        if key is not None:
            hit = self._cache.get(key)
            if hit is not None:
                return hit
        engine = self._engine
        active = code = chat = agent = 0
        sums = [0] * len(BlockTotals.FIELDS)
        chat_users = [0] * len(CHAT_MODELS)
        chat_counts = [[0, 0, 0] for _ in CHAT_MODELS]
        type_users = [0] * len(AGENT_TYPES)
        model_users = [0] * len(AGENT_MODELS)
        cells = [[[0] * _CELL_FIELDS for _ in AGENT_MODELS] for _ in AGENT_TYPES]
        for day in range(first_day, min(end_day, engine.today + 1)):
            d_active, d_code, d_chat, d_agent, counts = engine.day_masks(day, members)
            if d_active == 0:
                continue
            active |= d_active
            code |= d_code
            chat |= d_chat
            agent |= d_agent
            for i, value in enumerate(counts):
                sums[i] += value
            p = engine.planes(day)
            if d_chat:
                for m in range(len(CHAT_MODELS)):
                    cell = d_chat & _pick(p, CHAT_MODEL, m)
                    if not cell:
                        continue
                    chat_users[m] |= cell
                    messages = cell.bit_count() + weighted(cell, (p[i] for i in CHAT_INTERACTIONS))
                    row = chat_counts[m]
                    row[0] += messages
                    row[1] += 1200 * messages + (weighted(cell, (p[i] for i in CHAT_IN)) << 6)
                    row[2] += 350 * messages + (weighted(cell, (p[i] for i in CHAT_OUT)) << 5)
            if d_agent:
                cli = p[AGENT_CLI[0]] & p[AGENT_CLI[1]]
                for t, type_mask in enumerate((d_agent & ~cli, d_agent & cli)):
                    if not type_mask:
                        continue
                    type_users[t] |= type_mask
                    for m in range(len(AGENT_MODELS)):
                        cell = type_mask & _pick(p, AGENT_MODEL, m)
                        if not cell:
                            continue
                        model_users[m] |= cell
                        target = cells[t][m]
                        for i, value in enumerate(_agent_counts(cell, p)):
                            target[i] += value
        result = V2Totals(
            base=BlockTotals(
                active.bit_count(),
                code.bit_count(),
                chat.bit_count(),
                agent.bit_count(),
                tuple(sums),
            ),
            chat_models=tuple(
                (users.bit_count(), row[0], row[1], row[2])
                for users, row in zip(chat_users, chat_counts, strict=True)
            ),
            agent_cells=tuple(tuple(tuple(cell) for cell in row) for row in cells),
            agent_type_users=tuple(users.bit_count() for users in type_users),
            agent_model_users=tuple(users.bit_count() for users in model_users),
        )
        if key is not None:
            self._cache[key] = result
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return result


def _dollars(micros: int) -> float:
    return round(micros / 1_000_000, 6)


def _chat_rows(totals: V2Totals) -> list[dict[str, Any]]:
    return [
        {
            "model": model.id,
            "messages": messages,
            "uniqueUsers": users,
            "inputTokens": tokens_in,
            "outputTokens": tokens_out,
        }
        for model, (users, messages, tokens_in, tokens_out) in zip(
            CHAT_MODELS, totals.chat_models, strict=True
        )
        if messages
    ]


def _agent_rows(totals: V2Totals) -> list[dict[str, Any]]:
    return [
        {
            "model": model.id,
            "messages": totals.agent_sum(INTERACTIONS, model=m),
            "uniqueUsers": totals.agent_model_users[m],
            "inputTokens": totals.agent_sum(TOKENS_IN, model=m),
            "outputTokens": totals.agent_sum(TOKENS_OUT, model=m),
        }
        for m, model in enumerate(AGENT_MODELS)
        if totals.agent_sum(INTERACTIONS, model=m)
    ]


def v2_bucket_json(
    start: datetime,
    end: datetime,
    totals: V2Totals,
    *,
    with_models: bool,
    ides: str | None = None,
    languages: str | None = None,
) -> dict[str, Any]:
    """One ``V2UsageBucket`` exactly as the server writes it."""
    base = totals.base
    counts = dict(zip(BlockTotals.FIELDS, base.counts, strict=True))
    chat: dict[str, Any] = {
        "activeUsers": base.chat_users,
        "messages": counts["chat_interactions"],
        "linesAdded": counts["chat_lines"],
    }
    agent: dict[str, Any] = {
        "activeUsers": base.agent_users,
        "messages": totals.agent_sum(INTERACTIONS),
        "linesAdded": totals.agent_sum(ADDED),
        "linesAddedAccepted": totals.agent_sum(ADDED_OK),
        "linesRemoved": totals.agent_sum(REMOVED),
        "linesRemovedAccepted": totals.agent_sum(REMOVED_OK),
    }
    if with_models:
        chat["models"] = _chat_rows(totals)
        agent["models"] = _agent_rows(totals)
    bucket: dict[str, Any] = {
        "from": format_timestamp(start),
        "to": format_timestamp(end),
        "activeUsers": base.active_users,
        "codeCompletions": {
            "activeUsers": base.code_users,
            "completions": counts["completions"],
            "charsCompleted": counts["chars_completed"],
            "keystrokes": counts["keystrokes"],
            "lines": counts["code_lines"],
        },
        "chat": chat,
        "agent": agent,
    }
    if ides is not None:
        bucket["ides"] = ides
    if languages is not None:
        bucket["languages"] = languages
    return bucket


def _model_breakdown(totals: V2Totals, agent_type: int | None) -> list[dict[str, Any]]:
    rows = []
    for m, model in enumerate(AGENT_MODELS):
        tokens_in = totals.agent_sum(TOKENS_IN, agent_type, m)
        tokens_out = totals.agent_sum(TOKENS_OUT, agent_type, m)
        if not totals.agent_sum(INTERACTIONS, agent_type, m):
            continue
        rows.append(
            {
                "model": model.name,
                "tokensConsumed": tokens_in + tokens_out,
                "inputTokens": tokens_in,
                "outputTokens": tokens_out,
                "cost": _dollars(totals.agent_cost_micros(agent_type, m)),
            }
        )
    return rows


def agent_point_json(start: datetime, end: datetime, totals: V2Totals) -> dict[str, Any]:
    """One ``AgentUsageDataPoint`` exactly as the server writes it."""
    types = []
    for t, name in enumerate(AGENT_TYPES):
        if not totals.agent_type_users[t]:
            continue
        tokens_in = totals.agent_sum(TOKENS_IN, t)
        tokens_out = totals.agent_sum(TOKENS_OUT, t)
        types.append(
            {
                "agentType": name,
                "activeUsers": totals.agent_type_users[t],
                "interactions": totals.agent_sum(INTERACTIONS, t),
                "linesAdded": totals.agent_sum(ADDED, t),
                "linesAddedAccepted": totals.agent_sum(ADDED_OK, t),
                "linesRemoved": totals.agent_sum(REMOVED, t),
                "linesRemovedAccepted": totals.agent_sum(REMOVED_OK, t),
                "tokensConsumed": tokens_in + tokens_out,
                "inputTokens": tokens_in,
                "outputTokens": tokens_out,
                "cost": _dollars(totals.agent_cost_micros(t)),
                "userInitiatedMessages": totals.agent_sum(SESSIONS, t),
                "modelBreakdown": _model_breakdown(totals, t),
            }
        )
    tokens_in = totals.agent_sum(TOKENS_IN)
    tokens_out = totals.agent_sum(TOKENS_OUT)
    return {
        "from": format_timestamp(start),
        "to": format_timestamp(end),
        "activeUsers": totals.base.agent_users,
        "totalTokensConsumed": tokens_in + tokens_out,
        "totalInputTokens": tokens_in,
        "totalOutputTokens": tokens_out,
        "totalCost": _dollars(totals.agent_cost_micros()),
        "modelBreakdown": _model_breakdown(totals, None),
        "agentTypeBreakdown": types,
    }
