"""``UsageRecord``: the flat row a backfill writes, one per (scope, entity, period).

This is a contract: users load these rows into warehouses. The column names, their order and their
meaning only change with a major version. Metrics the server left out are ``None``, never ``0``.

Example::

    >>> from tabnine_usage_async.records import RECORD_FIELDS
    >>> RECORD_FIELDS[:4]
    ('scope', 'organization_id', 'team_id', 'team_ids')
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import attrs

from .models import UsageBlock, UsageReport
from .windows import format_datetime

__all__ = ["RECORD_FIELDS", "Scope", "UsageRecord", "records_from_report"]

#: The three levels a usage record can describe.
Scope = Literal["organization", "team", "user"]

_EMPTY: Mapping[str, Any] = {}


@attrs.frozen
class UsageRecord:
    """Usage of one organization, team or user over one period ``[period_start, period_end)``.

    Attributes:
        scope: ``"organization"``, ``"team"`` or ``"user"``.
        organization_id: the organization.
        team_id: the team, for team records only.
        team_ids: for user records, every team of the user (empty when unassigned); empty for
            the other scopes.
        user_id: the user, for user records only.
        user_email: the user's email, for user records only.
        granularity: ``"all"``, ``"daily"``, ``"weekly"`` or ``"monthly"``.
        period_start: start of the block, aware UTC.
        period_end: end of the block (exclusive), aware UTC.
        extra: keys of the usage block the SDK does not know, as received.
    """

    scope: Scope
    organization_id: str
    team_id: str | None
    team_ids: tuple[str, ...]
    user_id: str | None
    user_email: str | None
    granularity: str
    period_start: datetime
    period_end: datetime
    active_users: int | None = None
    productivity_factor: float | None = None
    code_completions_active_users: int | None = None
    code_completions: int | None = None
    code_completions_chars: int | None = None
    code_completions_keystrokes: int | None = None
    code_completions_lines: int | None = None
    automation_factor: float | None = None
    chat_active_users: int | None = None
    chat_interactions: int | None = None
    chat_useful_interactions: int | None = None
    chat_lines: int | None = None
    chat_chars: int | None = None
    chat_consumption_rate: float | None = None
    extra: Mapping[str, Any] = attrs.field(default=_EMPTY)

    @property
    def entity_id(self) -> str:
        """The id the record is about: the user, the team, or the organization."""
        if self.scope == "user":
            return self.user_id or ""
        if self.scope == "team":
            return self.team_id or ""
        return self.organization_id

    @property
    def key(self) -> tuple[str, str, str, str]:
        """``(scope, entity id, granularity, period_start)``: unique in a finished output."""
        return (self.scope, self.entity_id, self.granularity, format_datetime(self.period_start))

    def to_row(self) -> dict[str, Any]:
        """The record as plain JSON-ready values, in ``RECORD_FIELDS`` order.

        Date-times become ``2026-01-01T00:00:00Z`` strings, ``team_ids`` a list and ``extra`` a
        dict; every other value is a str, int, float or None.
        """
        row = attrs.asdict(self, recurse=False)
        row["team_ids"] = list(self.team_ids)
        row["period_start"] = format_datetime(self.period_start)
        row["period_end"] = format_datetime(self.period_end)
        row["extra"] = dict(self.extra)
        return row


#: Column names of a record, in order: the schema of every output format.
RECORD_FIELDS: tuple[str, ...] = tuple(a.name for a in attrs.fields(UsageRecord))


def _record(
    block: UsageBlock,
    *,
    scope: Scope,
    organization_id: str,
    granularity: str,
    team_id: str | None,
    team_ids: tuple[str, ...],
    user_id: str | None,
    user_email: str | None,
) -> UsageRecord:
    code = block.code_completions
    chat = block.chat
    return UsageRecord(
        scope=scope,
        organization_id=organization_id,
        team_id=team_id,
        team_ids=team_ids,
        user_id=user_id,
        user_email=user_email,
        granularity=granularity,
        period_start=block.start,
        period_end=block.end,
        active_users=block.active_users,
        productivity_factor=block.productivity_factor,
        code_completions_active_users=code.active_users if code else None,
        code_completions=code.completions if code else None,
        code_completions_chars=code.chars_completed if code else None,
        code_completions_keystrokes=code.keystrokes if code else None,
        code_completions_lines=code.lines if code else None,
        automation_factor=code.automation_factor if code else None,
        chat_active_users=chat.active_users if chat else None,
        chat_interactions=chat.interactions if chat else None,
        chat_useful_interactions=chat.useful_interactions if chat else None,
        chat_lines=chat.lines if chat else None,
        chat_chars=chat.chars_completed if chat else None,
        chat_consumption_rate=chat.consumption_rate if chat else None,
        extra=block.extra,
    )


def records_from_report(
    report: UsageReport,
    *,
    scope: Scope,
    organization_id: str,
    team_id: str | None = None,
    team_ids: tuple[str, ...] = (),
    user_id: str | None = None,
    user_email: str | None = None,
) -> list[UsageRecord]:
    """Flatten a report into one record per block.

    The ids come from the request, not the response, so a record is always attributed to the
    entity that was asked about.
    """
    granularity = report.granularity.value
    return [
        _record(
            block,
            scope=scope,
            organization_id=organization_id,
            granularity=granularity,
            team_id=team_id,
            team_ids=team_ids,
            user_id=user_id,
            user_email=user_email,
        )
        for block in report.blocks
    ]
