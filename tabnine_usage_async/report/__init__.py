"""The adoption report: a synced dataset -> numbers (``compute``) -> one offline page (``html``).

``compute`` is pure and needs nothing beyond the SDK; rendering the page needs the ``[report]``
extra (the charting library), imported only by ``html``::

    from tabnine_usage_async.report import ReportOptions, load_report
    from tabnine_usage_async.report.html import render_html

    report = await load_report(destination, ReportOptions(inactive_days=(30, 60, 90)))
    Path("report.html").write_text(render_html(report), encoding="utf-8")
"""

from __future__ import annotations

from ._load import load_report, read_dataset
from ._model import (
    AdoptionPoint,
    AgentCost,
    AgentPoint,
    Averages,
    Definition,
    Header,
    ReclaimRow,
    Report,
    ReportOptions,
    SeatMonth,
    Seats,
    TeamRow,
    report_to_json,
)
from .compute import DatasetRows, Ledger, ReportDataError, compute_report

__all__ = [
    "AdoptionPoint",
    "AgentCost",
    "AgentPoint",
    "Averages",
    "DatasetRows",
    "Definition",
    "Header",
    "Ledger",
    "ReclaimRow",
    "Report",
    "ReportDataError",
    "ReportOptions",
    "SeatMonth",
    "Seats",
    "TeamRow",
    "compute_report",
    "load_report",
    "read_dataset",
    "report_to_json",
]
