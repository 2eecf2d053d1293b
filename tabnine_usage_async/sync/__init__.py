"""Keep a dataset current: the job spec, the planner and the run (see ``run_sync``)."""

from ._index import group_name, split_unit_key
from ._plan import DueUnit, Reason, UnitIndex, due_reason, plan_stream, sync_windows, unit_key
from ._run import StreamPlan, SyncPlan, SyncSummary, plan_sync, run_sync
from ._spec import DEFAULT_LOOKBACK, ApiChoice, CalendarWindow, SyncSpec, parse_lookback

__all__ = [
    "DEFAULT_LOOKBACK",
    "ApiChoice",
    "CalendarWindow",
    "DueUnit",
    "Reason",
    "StreamPlan",
    "SyncPlan",
    "SyncSpec",
    "SyncSummary",
    "UnitIndex",
    "due_reason",
    "group_name",
    "parse_lookback",
    "plan_stream",
    "plan_sync",
    "run_sync",
    "split_unit_key",
    "sync_windows",
    "unit_key",
]
