"""What a stream is: a small frozen declaration, not a class to subclass.

A stream is one table of a dataset. Its declaration says which table (a ``TableSchema``), whether it
grows by period (``incremental``) or is replaced whole on every run (``snapshot``), which units of
work it is split into, which request answers it (its ``source``; streams that share a source share
the request), and how an answer becomes rows. The engine in ``streams._engine`` runs every stream;
the planner in ``sync`` decides which of their units are due.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

import attrs

from .._units import Entity
from ..destinations import TableSchema

__all__ = ["ApiVersion", "RowBuilder", "RowContext", "Source", "Stream", "StreamKind", "UnitsOf"]

#: ``incremental`` streams are split into (entity, window) units fetched once their period has
#: ended and again while it may still change; ``snapshot`` streams are one unit, replaced whole.
StreamKind = Literal["incremental", "snapshot"]

#: Which units an incremental stream has: one per entity (organization, each team, each user) and
#: window, or one per window for the organization only (``organization``).
UnitsOf = Literal["entities", "organization", "once"]

#: The usage API a stream needs: ``v2`` (Tabnine 6.2+), ``v1`` (legacy usage), or ``any``.
ApiVersion = Literal["v2", "v1", "any"]

#: The requests a stream's answer comes from (see ``streams._fetch``). Streams that share a source
#: are fed by one request per unit.
Source = Literal[
    "usage_v2",
    "usage_v2_all",
    "agent_usage",
    "usage_v1",
    "audit_log",
    "roster",
    "seats",
    "invitations",
]


@attrs.frozen
class RowContext:
    """What a row builder knows besides the answer.

    Attributes:
        organization_id: the organization.
        entity: the unit's entity (``None`` for snapshot streams).
        fetched_at: when the answer was fetched (aware UTC); rows carry it, and a period that
            ended by then is complete.
    """

    organization_id: str
    entity: Entity | None
    fetched_at: datetime


#: Turns one answer of the stream's source into the stream's rows (plain values, by column name).
RowBuilder = Callable[[Any, RowContext], list[dict[str, Any]]]


@attrs.frozen
class Stream:
    """The declaration of one stream.

    Attributes:
        name: the stream's name, equal to its table's name.
        table: columns, key and period column.
        kind: ``incremental`` or ``snapshot``.
        units: how an incremental stream is split (``entities`` or ``organization``); ``once``
            for snapshot streams.
        source: the request that answers it.
        rows: answer -> rows.
        api: the usage API it needs (``v2``/``v1``) or ``any``.
        default: whether a sync includes it when ``--streams`` is not given (on a server whose
            API version the stream fits).
        granularity: a fixed request granularity (``all`` for per-model rows), or ``None`` for the
            job's.
        doc: one sentence for ``--help`` and the README.
    """

    name: str
    table: TableSchema
    kind: StreamKind
    units: UnitsOf
    source: Source
    rows: RowBuilder = attrs.field(eq=False, repr=False)
    api: ApiVersion = "any"
    default: bool = True
    granularity: str | None = None
    doc: str = ""

    @property
    def incremental(self) -> bool:
        """Whether the stream grows by period (and so has a planner and a lookback)."""
        return self.kind == "incremental"
