"""Report numbers -> one self-contained HTML page that works offline.

The charts are Vega-Lite specifications rendered by vega-embed. The JavaScript (Vega, Vega-Lite,
vega-embed and vega-tooltip, about 0.9 MB minified) comes from the ``vl-convert-python`` package
of the ``[report]`` extra and is inlined into the page, so the file opens without any request to
any host: nothing is loaded from a CDN, no font, no image. Tables are plain HTML, sortable by a
click on a header, and each has a CSV download built in the page (a ``Blob``, no network).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from html import escape
from typing import Any

from ..errors import TabnineError
from ._model import AgentPoint, Report

__all__ = ["ReportDependencyError", "javascript_bundle", "render_html"]

#: The default visible range of the daily charts (drag to pan, wheel to zoom for more).
DEFAULT_RANGE_DAYS = 91


class ReportDependencyError(TabnineError):
    """The charting library of the ``[report]`` extra is not installed."""


@functools.cache
def javascript_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script that sets ``window.vegaEmbed``.

    Bundling takes seconds, so the result is kept for the life of the process.
    """
    try:
        import vl_convert
    except ImportError:
        raise ReportDependencyError(
            "the HTML report needs the charting library: pip install 'tabnine-usage-async[report]'"
        ) from None
    # The stubs make ``snippet`` required; called without it the bundle sets window globals.
    make: Any = vl_convert.javascript_bundle
    bundle: str = make()
    return bundle


# -- formatting ----------------------------------------------------------------------------------


def _num(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    if digits == 0:
        return f"{round(value):,}"
    return f"{value:,.{digits}f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def _signed_pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:+.0f}%"


def _day(value: date | None) -> str:
    return "never" if value is None else value.isoformat()


def _json_script(value: Any) -> str:
    # "</" would close the script element early.
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")


# -- tables --------------------------------------------------------------------------------------

#: A table column: header, value for sorting and CSV, text shown, and whether it is a number.
Col = tuple[str, Callable[[Any], Any], Callable[[Any], str], bool]


def _table(table_id: str, title: str, cols: Sequence[Col], rows: Sequence[Any], note: str) -> str:
    head = "".join(
        f'<th scope="col" class="{"num" if numeric else ""}" tabindex="0">{escape(h)}</th>'
        for h, _, _, numeric in cols
    )
    body = []
    for row in rows:
        cells = []
        for _, raw, shown, numeric in cols:
            value = raw(row)
            sort = "" if value is None else str(value)
            cells.append(
                f'<td class="{"num" if numeric else ""}" data-v="{escape(sort)}">'
                f"{escape(shown(row))}</td>"
            )
        body.append(f"<tr>{''.join(cells)}</tr>")
    csv = {
        "columns": [h for h, _, _, _ in cols],
        "rows": [
            [raw(r) if not isinstance(raw(r), date) else str(raw(r)) for _, raw, _, _ in cols]
            for r in rows
        ],
    }
    empty = "" if rows else '<p class="empty">Nothing to show.</p>'
    return (
        f'<div class="table-head"><h3>{escape(title)}</h3>'
        f'<button type="button" class="csv" data-table="{table_id}">Download CSV</button></div>'
        f'<p class="note">{escape(note)}</p>'
        f'<div class="scroll"><table id="{table_id}" class="sortable"><thead><tr>{head}</tr>'
        f"</thead><tbody>{''.join(body)}</tbody></table></div>{empty}"
        f'<script type="application/json" id="{table_id}-data">{_json_script(csv)}</script>'
    )


# -- charts --------------------------------------------------------------------------------------


def _legend_toggle() -> list[dict[str, Any]]:
    return [{"name": "pick", "select": {"type": "point", "fields": ["series"]}, "bind": "legend"}]


def _line_chart(
    values: list[dict[str, Any]], title: str, y_title: str, *, range_days: int | None
) -> dict[str, Any]:
    x: dict[str, Any] = {
        "field": "date",
        "type": "temporal",
        "title": None,
        "axis": {"format": "%b %d", "labelOverlap": True, "tickCount": 6},
    }
    params: list[dict[str, Any]] = _legend_toggle()
    if range_days is not None and values:
        last = max(v["date"] for v in values)
        first = (date.fromisoformat(last) - timedelta(days=range_days)).isoformat()
        x["scale"] = {"domain": [first, last]}
        params.append({"name": "zoom", "select": "interval", "bind": "scales", "encodings": ["x"]})
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": title,
        "width": "container",
        "height": 240,
        "data": {"values": values},
        "params": params,
        "mark": {"type": "line", "point": {"size": 18}, "tooltip": True, "clip": True},
        "encoding": {
            "x": x,
            "y": {"field": "value", "type": "quantitative", "title": y_title},
            "color": {
                "field": "series",
                "type": "nominal",
                "title": None,
                "legend": {"orient": "bottom", "columns": 2, "labelLimit": 220},
            },
            "opacity": {"condition": {"param": "pick", "value": 1}, "value": 0.12},
            # Dashes tell series apart where they overlap, and without colour.
            "strokeDash": {"field": "series", "type": "nominal", "legend": None},
            "tooltip": [
                {"field": "series", "title": "Series"},
                {"field": "date", "type": "temporal", "title": "Date", "format": "%a %b %d, %Y"},
                {"field": "value", "type": "quantitative", "title": y_title, "format": ",.4~f"},
            ],
        },
    }


def _stacked_bars(values: list[dict[str, Any]], title: str, y_title: str) -> dict[str, Any]:
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": title,
        "width": "container",
        "height": 240,
        "data": {"values": values},
        "params": _legend_toggle(),
        "mark": {"type": "bar", "tooltip": True},
        "encoding": {
            "x": {
                "field": "date",
                "type": "temporal",
                "timeUnit": "yearweek",
                "title": None,
                "axis": {"format": "%b %d", "labelOverlap": True, "tickCount": 6},
            },
            "y": {"aggregate": "sum", "field": "value", "type": "quantitative", "title": y_title},
            "color": {
                "field": "series",
                "type": "nominal",
                "title": None,
                "legend": {"orient": "bottom", "columns": 2, "labelLimit": 220},
            },
            "opacity": {"condition": {"param": "pick", "value": 1}, "value": 0.12},
            "tooltip": [
                {"field": "series", "title": "Series"},
                {
                    "field": "date",
                    "type": "temporal",
                    "timeUnit": "yearweek",
                    "title": "Week of",
                    "format": "%b %d, %Y",
                },
                {
                    "aggregate": "sum",
                    "field": "value",
                    "type": "quantitative",
                    "title": y_title,
                    "format": ",.2~f",
                },
            ],
        },
    }


def _series(points: Sequence[Any], fields: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {"date": p.start.isoformat(), "series": label, "value": getattr(p, name)}
        for p in points
        for name, label in fields
    ]


def _agent_values(points: Sequence[AgentPoint], field: str) -> list[dict[str, Any]]:
    return [
        {"date": p.day.isoformat(), "series": p.name, "value": getattr(p, field)} for p in points
    ]


_CHART_CONFIG = {
    "font": "system-ui, -apple-system, Segoe UI, Roboto, DejaVu Sans, sans-serif",
    "axis": {"labelFontSize": 12, "titleFontSize": 12, "labelColor": "#3e4c59"},
    "legend": {"labelFontSize": 12, "symbolSize": 90},
    "title": {"fontSize": 14, "anchor": "start", "offset": 8},
    "view": {"stroke": None},
}


def _charts(report: Report) -> dict[str, dict[str, Any]]:
    daily_days = len(report.daily)
    range_days = DEFAULT_RANGE_DAYS if daily_days > DEFAULT_RANGE_DAYS + 14 else None
    active = _series(report.daily, [("active_users", "Daily active users")]) + _series(
        report.weekly, [("active_users", "Weekly active users")]
    )
    months = [
        {"date": m.month.isoformat(), "series": label, "value": value}
        for m in report.seats.months
        for label, value in (
            ("Registered", m.registered),
            ("Active (utilization)", m.active),
            ("Active users (usage)", m.usage_active_users),
        )
        if value is not None
    ]
    charts = {
        "chart-active": _line_chart(active, "Active users", "Users", range_days=range_days),
        "chart-activity": _line_chart(
            _series(
                report.daily,
                [
                    ("code_completions", "Code completions"),
                    ("chat_messages", "Chat messages"),
                    ("agent_messages", "Agent messages"),
                ],
            ),
            "Activity per day",
            "Count",
            range_days=range_days,
        ),
        "chart-lines": _line_chart(
            _series(
                report.weekly,
                [
                    ("code_completions_lines", "Completion lines"),
                    ("chat_lines_added", "Chat lines added"),
                    ("agent_lines_added", "Agent lines added"),
                    ("agent_lines_added_accepted", "Agent lines accepted"),
                ],
            ),
            "Lines of code per week",
            "Lines",
            range_days=None,
        ),
    }
    if months:
        charts["chart-seats"] = _line_chart(
            months, "Monthly seats and active users", "Users", range_days=None
        )
    if report.agent_by_model:
        charts["chart-agent-model"] = _stacked_bars(
            _agent_values(report.agent_by_model, "cost"), "Agent cost by model, per week", "Cost"
        )
        charts["chart-agent-tokens"] = _stacked_bars(
            _agent_values(report.agent_by_model, "tokens"),
            "Agent tokens by model, per week",
            "Tokens",
        )
    if report.agent_by_type:
        charts["chart-agent-type"] = _stacked_bars(
            _agent_values(report.agent_by_type, "cost"),
            "Agent cost by agent type, per week",
            "Cost",
        )
    for spec in charts.values():
        spec["config"] = _CHART_CONFIG
    return charts


# -- page ----------------------------------------------------------------------------------------


def _kpi(label: str, value: str, hint: str = "") -> str:
    hint_html = f'<span class="hint">{escape(hint)}</span>' if hint else ""
    return (
        f'<div class="kpi"><span class="label">{escape(label)}</span>'
        f'<span class="value">{escape(value)}</span>{hint_html}</div>'
    )


def _days_list(days: Sequence[date], limit: int = 12) -> str:
    shown = ", ".join(d.isoformat() for d in days[:limit])
    more = f" and {len(days) - limit} more" if len(days) > limit else ""
    return shown + more


def _completeness(report: Report) -> str:
    h = report.header
    items = []
    if h.last_run_status and h.last_run_status != "succeeded":
        items.append(f"The last sync ended as {h.last_run_status}.")
    if h.failed_units:
        items.append(
            f"{len(h.failed_units)} unit(s) failed in the last sync: "
            + "; ".join(h.failed_units[:5])
        )
    if h.missing_days:
        items.append(
            f"No organization usage for {len(h.missing_days)} day(s): {_days_list(h.missing_days)}."
        )
    if h.provisional_days:
        items.append(f"Provisional (may still change): {_days_list(h.provisional_days)}.")
    if not items:
        return '<p class="ok">Complete: every day of the period is synced and final.</p>'
    return '<ul class="warn">' + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>"


def _header_html(report: Report) -> str:
    h = report.header
    last_day = h.period_end - timedelta(days=1)
    synced = h.synced_at.strftime("%Y-%m-%d %H:%M UTC") if h.synced_at else "never"
    facts = [
        ("Period", f"{h.period_start.isoformat()} to {last_day.isoformat()}"),
        ("Synced", synced),
        ("API", h.api_version or "unknown"),
    ]
    facts_html = "".join(f"<div><dt>{escape(k)}</dt><dd>{escape(v)}</dd></div>" for k, v in facts)
    return (
        f"<header><h1>Tabnine adoption: {escape(h.organization)}</h1>"
        f'<dl class="facts">{facts_html}</dl>{_completeness(report)}</header>'
    )


def _seats_html(report: Report) -> str:
    s = report.seats
    kpis = "".join(
        [
            _kpi("Licensed seats", _num(s.licensed)),
            _kpi("Registered", _num(s.registered)),
            _kpi("Active, last 28 days", _num(s.active_28d)),
            _kpi("Activation rate", _pct(s.activation_rate)),
            _kpi("Deactivated", _num(s.deactivated)),
            _kpi("Pending invitations", _num(s.pending_invitations)),
        ]
    )
    months = _table(
        "table-months",
        "Monthly utilization",
        [
            (
                "Month",
                lambda m: m.month.strftime("%Y-%m"),
                lambda m: m.month.strftime("%b %Y"),
                False,
            ),
            ("Registered", lambda m: m.registered, lambda m: _num(m.registered), True),
            ("Active", lambda m: m.active, lambda m: _num(m.active), True),
            ("Utilization", lambda m: m.utilization, lambda m: _pct(m.utilization), True),
            (
                "Active users (usage)",
                lambda m: m.usage_active_users,
                lambda m: _num(m.usage_active_users),
                True,
            ),
            ("Deactivated", lambda m: m.deactivated, lambda m: _num(m.deactivated), True),
            ("Pending", lambda m: m.pending, lambda m: _num(m.pending), True),
            (
                "Provisional",
                lambda m: m.provisional,
                lambda m: "yes" if m.provisional else "",
                False,
            ),
        ],
        report.seats.months,
        "Utilization is the server's active users of the month over its registered users.",
    )
    chart = '<div class="chart" id="chart-seats"></div>' if s.months else ""
    return (
        f'<section id="seats"><h2>Seats</h2><div class="kpis">{kpis}</div>{chart}{months}</section>'
    )


def _adoption_html(report: Report) -> str:
    t, a = report.totals, report.averages
    kpis = "".join(
        [
            _kpi("Active users in the period", _num(t.active_users)),
            _kpi("Code completions", _num(t.code_completions)),
            _kpi("Chat messages", _num(t.chat_messages)),
            _kpi("Agent messages", _num(t.agent_messages)),
            _kpi("Agent lines accepted", _num(t.agent_lines_added_accepted)),
        ]
    )
    which = "weekdays" if a.weekends_excluded else "days"
    averages = "".join(
        [
            _kpi("Daily active users", _num(a.active_users, 1), f"mean of {a.days} {which}"),
            _kpi("Completions per day", _num(a.code_completions, 1), f"mean of {a.days} {which}"),
            _kpi("Chat messages per day", _num(a.chat_messages, 1), f"mean of {a.days} {which}"),
            _kpi("Agent messages per day", _num(a.agent_messages, 1), f"mean of {a.days} {which}"),
        ]
    )
    return (
        '<section id="adoption"><h2>Adoption over time</h2>'
        f'<div class="kpis">{kpis}</div><h3>Per-day averages'
        f"{' (weekends left out)' if a.weekends_excluded else ''}</h3>"
        f'<div class="kpis">{averages}</div>'
        '<p class="note">Daily charts open on the last 13 weeks: drag to pan, scroll to zoom, '
        "click a legend entry to highlight a series.</p>"
        '<div class="chart" id="chart-active"></div>'
        '<div class="chart" id="chart-activity"></div>'
        '<div class="chart" id="chart-lines"></div></section>'
    )


def _teams_html(report: Report) -> str:
    table = _table(
        "table-teams",
        "Teams",
        [
            ("Team", lambda r: r.name, lambda r: r.name, False),
            ("Members", lambda r: r.members, lambda r: _num(r.members), True),
            ("Active in period", lambda r: r.active, lambda r: _num(r.active), True),
            ("Share active", lambda r: r.share_active, lambda r: _pct(r.share_active), True),
            ("Completions", lambda r: r.completions, lambda r: _num(r.completions), True),
            ("Chat messages", lambda r: r.chat_messages, lambda r: _num(r.chat_messages), True),
            ("Agent messages", lambda r: r.agent_messages, lambda r: _num(r.agent_messages), True),
            (
                "Activity per active user",
                lambda r: r.activity_per_active_user,
                lambda r: _num(r.activity_per_active_user, 1),
                True,
            ),
            ("Trend (28 d)", lambda r: r.trend, lambda r: _signed_pct(r.trend), True),
        ],
        report.teams,
        "Members are the registered users the last sync listed in each team; a user in several "
        "teams counts in each of them.",
    )
    return f'<section id="teams"><h2>Teams</h2>{table}</section>'


def _reclaim_html(report: Report) -> str:
    thresholds = ", ".join(str(t) for t in report.inactive_thresholds)
    never = sum(1 for r in report.reclaim if r.last_active is None)
    counts = "".join(
        _kpi(f"No activity for {t}+ days", _num(sum(1 for r in report.reclaim if r.threshold >= t)))
        for t in report.inactive_thresholds
    ) + _kpi("Never active", _num(never))
    table = _table(
        "table-reclaim",
        "Seats to reclaim",
        [
            ("Email", lambda r: r.email, lambda r: r.email, False),
            ("Last active", lambda r: r.last_active, lambda r: _day(r.last_active), False),
            ("Days inactive", lambda r: r.inactive_days, lambda r: _num(r.inactive_days), True),
            (
                "Inactive for",
                lambda r: r.threshold,
                lambda r: f"{r.threshold}+ days" if r.threshold else "never used",
                True,
            ),
            ("Team", lambda r: r.teams, lambda r: r.teams or "(no team)", False),
            ("Role", lambda r: r.role, lambda r: r.role, False),
        ],
        report.reclaim,
        f"Registered users without activity for {thresholds} days before the period's end, "
        "and those never active in the dataset.",
    )
    return (
        f'<section id="reclaim"><h2>Seats to reclaim</h2><div class="kpis">{counts}</div>'
        f"{table}</section>"
    )


def _agent_html(report: Report) -> str:
    if not (report.agent_by_model or report.agent_by_type or report.agent_top_users):
        return (
            '<section id="agent"><h2>Agent</h2><p class="note">The dataset has no agent usage '
            "(the agent_usage streams were not synced, or the licence has no agent).</p></section>"
        )
    kpis = _kpi("Agent tokens", _num(report.agent_total_tokens)) + _kpi(
        "Agent cost", _num(report.agent_total_cost, 2)
    )
    cols: list[Col] = [
        ("Name", lambda c: c.name, lambda c: c.name, False),
        ("Tokens", lambda c: c.tokens, lambda c: _num(c.tokens), True),
        ("Cost", lambda c: c.cost, lambda c: _num(c.cost, 2), True),
    ]
    top_teams = _table(
        "table-agent-teams", "Top teams by cost", cols, report.agent_top_teams, "Over the period."
    )
    top_users = _table(
        "table-agent-users", "Top users by cost", cols, report.agent_top_users, "Over the period."
    )
    charts = "".join(
        f'<div class="chart" id="{name}"></div>'
        for name in ("chart-agent-model", "chart-agent-tokens", "chart-agent-type")
        if (name == "chart-agent-type" and report.agent_by_type)
        or (name != "chart-agent-type" and report.agent_by_model)
    )
    return (
        f'<section id="agent"><h2>Agent</h2><div class="kpis">{kpis}</div>{charts}'
        f'<div class="two"><div>{top_teams}</div><div>{top_users}</div></div></section>'
    )


def _definitions_html(report: Report) -> str:
    items = "".join(
        f"<div><dt>{escape(d.metric)}</dt><dd>{escape(d.meaning)}</dd></div>"
        for d in report.definitions
    )
    return f'<section id="definitions"><h2>Definitions</h2><dl class="defs">{items}</dl></section>'


_CSS = """
:root{--ink:#1f2933;--muted:#52606d;--line:#d9e2ec;--bg:#f5f7fa;--card:#fff;--accent:#1f6feb;
--warn:#8a4b00;--warnbg:#fff4e0;--ok:#0f5132;--okbg:#e6f4ea}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
color:var(--ink);background:var(--bg)}
main{max-width:1180px;margin:0 auto;padding:16px}
header,section{background:var(--card);border:1px solid var(--line);border-radius:8px;
padding:16px 20px;margin:0 0 16px}
h1{font-size:1.5rem;margin:0 0 8px}h2{font-size:1.2rem;margin:0 0 12px}
h3{font-size:1rem;margin:16px 0 6px}
.facts{display:flex;flex-wrap:wrap;gap:8px 28px;margin:0 0 8px}
.facts dt{font-size:.75rem;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.facts dd{margin:0;font-weight:600}
h1{overflow-wrap:anywhere}
.ok{background:var(--okbg);color:var(--ok);padding:6px 10px;border-radius:6px;margin:8px 0 0}
.warn{background:var(--warnbg);color:var(--warn);padding:8px 10px 8px 28px;border-radius:6px;
margin:8px 0 0}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:10px;
margin:0 0 8px}
.kpi{border:1px solid var(--line);border-radius:6px;padding:8px 12px;display:flex;
flex-direction:column}
.kpi .label{font-size:.8rem;color:var(--muted)}
.kpi .value{font-size:1.35rem;font-weight:650;font-variant-numeric:tabular-nums}
.kpi .hint{font-size:.72rem;color:var(--muted)}
.chart{width:100%;min-height:300px;margin:14px 0}
.note{color:var(--muted);font-size:.85rem;margin:4px 0 8px}
.table-head{display:flex;align-items:center;justify-content:space-between;gap:8px;flex-wrap:wrap}
.csv{font:inherit;font-size:.85rem;border:1px solid var(--accent);color:var(--accent);
background:#fff;border-radius:6px;padding:4px 10px;cursor:pointer}
.csv:hover{background:#eef4ff}
.scroll{overflow:auto;max-height:520px;border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;width:100%;font-size:.88rem}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
th{position:sticky;top:0;background:#eef2f7;cursor:pointer;user-select:none}
th.num,td.num{text-align:right;font-variant-numeric:tabular-nums}
th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
tbody tr:nth-child(even){background:#fafbfc}
.two{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:16px}
main>*,.two>div{min-width:0}
.defs{display:grid;grid-template-columns:1fr 1fr;gap:8px 24px;margin:0}
.defs dt{font-weight:600}.defs dd{margin:0 0 4px;color:var(--muted)}
.empty{color:var(--muted)}
footer{color:var(--muted);font-size:.8rem;text-align:center;padding:0 0 16px}
@media (max-width:700px){main{padding:8px}header,section{padding:12px}
.two,.defs{grid-template-columns:minmax(0,1fr)}h1{font-size:1.25rem}
.kpis{grid-template-columns:repeat(2,minmax(0,1fr))}.kpi .value{font-size:1.15rem}}
"""

_PAGE_JS = """
(function(){
const specs=JSON.parse(document.getElementById('chart-specs').textContent);
const jobs=Object.entries(specs).map(([id,spec])=>{
  const el=document.getElementById(id);
  if(!el){return Promise.resolve();}
  return vegaEmbed(el,spec,{actions:false,renderer:'svg'}).catch(e=>{
    el.dataset.error=String(e);console.error('chart '+id+': '+e);});
});
Promise.all(jobs).then(()=>{document.body.dataset.charts='ready';});
function cmp(a,b,num){if(a===''&&b==='')return 0;if(a==='')return 1;if(b==='')return -1;
  return num?Number(a)-Number(b):a.localeCompare(b);}
document.querySelectorAll('table.sortable').forEach(t=>{
  t.querySelectorAll('th').forEach((th,i)=>{
    const sort=()=>{
      const dir=th.getAttribute('aria-sort')==='ascending'?'descending':'ascending';
      t.querySelectorAll('th').forEach(o=>o.removeAttribute('aria-sort'));
      th.setAttribute('aria-sort',dir);
      const num=th.classList.contains('num');const body=t.tBodies[0];
      const rows=Array.from(body.rows);
      rows.sort((x,y)=>{const r=cmp(x.cells[i].dataset.v,y.cells[i].dataset.v,num);
        return dir==='ascending'?r:-r;});
      rows.forEach(r=>body.appendChild(r));};
    th.addEventListener('click',sort);
    th.addEventListener('keydown',e=>{if(e.key==='Enter'){sort();}});
  });
});
function csvCell(v){if(v===null||v===undefined)return '';const s=String(v);
  return /[",\\n\\r]/.test(s)?'"'+s.replace(/"/g,'""')+'"':s;}
document.querySelectorAll('button.csv').forEach(b=>{
  b.addEventListener('click',()=>{
    const data=JSON.parse(document.getElementById(b.dataset.table+'-data').textContent);
    const lines=[data.columns,...data.rows].map(r=>r.map(csvCell).join(','));
    const blob=new Blob([lines.join('\\r\\n')+'\\r\\n'],{type:'text/csv'});
    const a=document.createElement('a');a.href=URL.createObjectURL(blob);
    a.download=b.dataset.table.replace('table-','')+'.csv';document.body.appendChild(a);
    a.click();a.remove();setTimeout(()=>URL.revokeObjectURL(a.href),0);
  });
});
})();
"""


def render_html(report: Report, *, bundle: str | None = None) -> str:
    """The whole page as one string (about 1 MB: the charting library is inlined).

    ``bundle`` is the charting JavaScript (default: ``javascript_bundle()``); it raises
    ``ReportDependencyError`` when the ``[report]`` extra is missing.
    """
    script = javascript_bundle() if bundle is None else bundle
    h = report.header
    last_day = h.period_end - timedelta(days=1)
    title = f"Tabnine adoption: {h.organization}, {h.period_start} to {last_day}"
    generated = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            # No request may leave the page: the policy forbids every host, the data is inline.
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
            "img-src data: blob:; connect-src 'none'\">",
            f"<title>{escape(title)}</title><style>{_CSS}</style></head><body><main>",
            _header_html(report),
            _seats_html(report),
            _adoption_html(report),
            _teams_html(report),
            _reclaim_html(report),
            _agent_html(report),
            _definitions_html(report),
            f"</main><footer>Generated {escape(generated)} by tabnine-usage report.</footer>",
            f'<script type="application/json" id="chart-specs">{_json_script(_charts(report))}'
            "</script>",
            f"<script>{script}</script>",
            f"<script>{_PAGE_JS}</script>",
            "</body></html>\n",
        ]
    )
