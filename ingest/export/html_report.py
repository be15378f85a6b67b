"""The HTML report of an export: one self-contained file that opens with no network.

Inline CSS and inline SVG only: no script, no external URL, and a
Content-Security-Policy that forbids fetching anything should a browser find
a reason to. Every string that comes from a transcript is escaped as text
(it has already been scrubbed and, unless asked otherwise, redacted).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any

from tiermon.ingest.formatting import money, money_part, timestamp
from tiermon.ingest.reports import TOKEN_FIELDS
from tiermon.ingest.sanitize import printable

if TYPE_CHECKING:
    from tiermon.ingest.export.model import ExportData

MAX_SESSIONS = 200
"""Sessions shown in detail; the tables files hold all of them."""
MAX_EVENTS = 60
"""Timeline rows shown per session."""
TIMELINE_KINDS = frozenset({"prompt", "command", "api_error", "interrupt", "compact_summary"})
"""Events worth a line in the HTML timeline (errors and compactions are added too)."""

ADVICE_COLUMNS = ("session_id", "kind", "from_tier", "to_tier", "turn", "start", "cost_usd", "counterfactual_cost_usd")

ADVICE_NOTE = ("Counterfactual costs re-price the same tokens on the other tier's reference model; "
               "they do not predict a different conversation.")

TIER_COLOURS = {"haiku": "#3b9c6b", "sonnet": "#3f76c4", "opus": "#9b4fc2", "other": "#8a8a8a"}

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'"

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;\
padding:0 1rem;color:#1d1d1f}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}\
h3{font-size:1rem;margin-bottom:.3rem}
table{border-collapse:collapse;margin:.5rem 0;width:100%}\
th,td{padding:.2rem .5rem;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em}
.muted{color:#666}.warn{color:#a33}.text{white-space:pre-wrap;word-break:break-word;max-width:40rem}
.chip{display:inline-block;padding:0 .4rem;border-radius:.6rem;color:#fff;font-size:.85em}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.1rem 1rem}dl.meta dt{color:#666}dl.meta dd{margin:0}
section.session{border:1px solid #e4e4e4;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}
"""

def render_html(data: ExportData) -> str:
    """The whole report as one string."""
    sessions = data.rows("sessions")
    parts = [
        _head(),
        "<h1>tiermon export</h1>",
        _meta(data),
        "<h2>Spend per tier</h2>",
        _tiers(data.rows("tiers")),
        f"<h2>Sessions ({len(sessions)})</h2>",
        _sessions_table(sessions),
        "<h2>Alerts</h2>",
        _signal_table(data.rows("alerts"), ("session_id", "kind", "severity", "start", "end")),
        "<h2>Advice</h2>",
        f'<p class="muted">{_t(ADVICE_NOTE)}</p>',
        _signal_table(data.rows("advice"), ADVICE_COLUMNS),
        "<h2>Session timelines</h2>",
        _session_details(data, sessions),
        "</body></html>\n",
    ]
    return "\n".join(parts)


def _head() -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>tiermon export</title><style>{_CSS}</style></head><body>"
    )


def _meta(data: ExportData) -> str:
    from tiermon import __version__

    f = data.selection
    filters = [f"sessions: {', '.join(f.sessions)}" if f.sessions else "",
               f"project contains: {f.project}" if f.project else "",
               f"since: {f.since}" if f.since else "", f"until: {f.until}" if f.until else ""]  # fmt: skip
    rows = {
        "created": _when(data.created_at),
        "tiermon": __version__,
        "price table": data.price_version or "unknown",
        "filters": "; ".join(p for p in filters if p) or "none (everything in the store)",
        "time zone of dates": f.tz,
        "prompt and response text": "kept (secrets scrubbed)" if data.include_text else "redacted (length only)",
    }
    items = "".join(f"<dt>{_t(k)}</dt><dd>{_t(v)}</dd>" for k, v in rows.items())
    return (
        f'<dl class="meta">{items}</dl>'
        '<p class="muted">Costs are estimates at list price. API keys and common secrets are always scrubbed.</p>'
    )


def _tiers(rows: list[dict[str, Any]]) -> str:
    total = sum(r["cost_usd"] or 0 for r in rows)
    unpriced_tokens = sum(r.get("unpriced_tokens") or 0 for r in rows)
    header = "".join(f'<th class="n">{_t(h)}</th>' for h in ("requests", "input", "output", "cache read",
                                                            "5m write", "1h write", "cost", "share"))  # fmt: skip
    body = []
    for r in rows:
        share = (r["cost_usd"] or 0) / total if total else 0.0
        unpriced = f' <span class="warn">({r["unpriced_requests"]} unpriced)</span>' if r["unpriced_requests"] else ""
        cells = "".join(f'<td class="n">{r[f]:,}</td>' for f in ("requests", *TOKEN_FIELDS))
        body.append(
            f'<tr data-tier="{_a(r["tier"])}">'
            f"<td>{_chip(r['tier'])}{unpriced}<br><span class=\"muted mono\">{_t(r.get('models'))}</span></td>"
            f'{cells}<td class="n"{_usd(r["cost_usd"])}>{money_part(r["cost_usd"], r.get("unpriced_tokens") or 0)}</td>'
            f'<td>{_bar(share, r["tier"])} {share:.0%}</td></tr>'
        )
    body.append(
        f'<tr><th>Total</th><td colspan="6"></td><th class="n"{_usd(total)}>{money_part(total, unpriced_tokens)}</th>'
        "<td></td></tr>"
    )
    return f"<table><tr><th>tier</th>{header}</tr>{''.join(body)}</table>"


def _sessions_table(sessions: list[dict[str, Any]]) -> str:
    tiers = "".join(f'<th class="n">{t}</th>' for t in TIER_COLOURS)
    rows = []
    for s in sessions:
        per_tier = "".join(f'<td class="n">{money(s[f"cost_{t}"])}</td>' for t in TIER_COLOURS)
        rows.append(
            f'<tr data-session="{_a(s["session_id"])}"><td class="mono">{_t(s["session_id"])}</td>'
            f"<td>{_t(s.get('project'))}</td><td>{_when(s['start'])}</td><td>{_when(s['end'])}</td>"
            f'<td class="n">{s["requests"]:,}</td><td class="n"{_usd(s["cost_usd"])}>'
            f"{money_part(s['cost_usd'], s.get('unpriced_tokens') or 0)}</td>{per_tier}"
            f'<td class="n">{s["switches"]}</td><td class="n">{s["alerts"]}</td></tr>'
        )
    head = ("<tr><th>session</th><th>project</th><th>start (UTC)</th><th>end (UTC)</th>"
            f'<th class="n">requests</th><th class="n">cost</th>{tiers}<th class="n">switches</th>'
            '<th class="n">alerts</th></tr>')  # fmt: skip
    return f"<table>{head}{''.join(rows)}</table>"


def _signal_table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    if not rows:
        return '<p class="muted">None.</p>'
    head = "".join(f"<th>{_t(c)}</th>" for c in (*columns, "what and why"))
    body = []
    for r in rows:
        cells = "".join(f"<td>{_cell(r.get(c))}</td>" for c in columns)
        css = ' class="warn"' if r.get("severity") == "warn" else ""
        body.append(f'<tr{css}>{cells}<td class="text">{_details(r, columns)}</td></tr>')
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _details(row: dict[str, Any], shown: tuple[str, ...]) -> str:
    """The row's message (or reason), then its other figures as `name: value` in small print."""
    lead = row.get("message") or row.get("reason") or ""
    figures: dict[str, Any] = {}
    for key, value in row.items():
        if key in shown or key in ("message", "reason", "project") or value in (None, ""):
            continue
        if key == "figures" and isinstance(value, str) and value.startswith("{"):
            try:
                figures.update(json.loads(value))
                continue
            except ValueError:
                pass
        figures[key] = value
    small = "; ".join(f"{k}: {_plain(v)}" for k, v in figures.items() if v not in (None, "", [], {}))
    return f'{_t(lead)}<br><span class="muted">{_t(small)}</span>' if small else _t(lead)


def _session_details(data: ExportData, sessions: list[dict[str, Any]]) -> str:
    segments = _tier_segments(data)
    switches = _by_session(data.rows("switches"))
    events = _by_session(data.rows("events"))
    responses = _by_session(data.tables["responses"].select(
        ["session_id", "ts", "model", "cost_usd", "is_sidechain"]).to_pylist())
    out = []
    for s in sessions[:MAX_SESSIONS]:
        sid = s["session_id"]
        out.append(
            f'<section class="session" data-session="{_a(sid)}"><h3 class="mono">{_t(sid)}</h3>'
            f'<p class="muted">{_t(s.get("project"))} · {_when(s["start"])} → {_when(s["end"])} · '
            f"{money_part(s['cost_usd'], s.get('unpriced_tokens') or 0)} · models: {_t(s.get('models'))}</p>"
            f"{_strip(segments.get(sid, []), s['start'], s['end'])}"
            f"{_switch_list(switches.get(sid, []))}{_timeline(events.get(sid, []), responses.get(sid, []))}</section>"
        )
    if len(sessions) > MAX_SESSIONS:
        out.append(f'<p class="muted">{len(sessions) - MAX_SESSIONS} more sessions are in the data files.</p>')
    return "".join(out)


def _tier_segments(data: ExportData) -> dict[str, list[tuple[datetime, datetime, str]]]:
    """Main-chain responses merged into runs of one tier: the model timeline of each session."""
    table = data.tables["responses"].select(["session_id", "ts", "tier", "is_sidechain"])
    runs: dict[str, list[tuple[datetime, datetime, str]]] = defaultdict(list)
    for r in sorted((r for r in table.to_pylist() if not r["is_sidechain"] and r["ts"]),
                    key=lambda r: (r["session_id"], r["ts"])):  # fmt: skip
        mine = runs[r["session_id"]]
        if mine and mine[-1][2] == r["tier"]:
            mine[-1] = (mine[-1][0], r["ts"], r["tier"])
        else:
            mine.append((r["ts"], r["ts"], r["tier"]))
    return runs


def _strip(runs: list[tuple[datetime, datetime, str]], start: datetime, end: datetime, width: int = 720) -> str:
    """An inline SVG bar: main-chain tier over time, one coloured block per run."""
    if not runs:
        return ""
    span = max((end - start).total_seconds(), 1.0)
    rects = []
    for i, (a, _, tier) in enumerate(runs):
        b = runs[i + 1][0] if i + 1 < len(runs) else end
        x = (a - start).total_seconds() / span * width
        w = max((b - a).total_seconds() / span * width, 2.0)
        x = min(x, width - w)
        rects.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="14" fill="{TIER_COLOURS.get(tier, "#888")}">'
                     f"<title>{_t(tier)} from {_when(a)}</title></rect>")  # fmt: skip
    legend = " ".join(_chip(t) for t in dict.fromkeys(r[2] for r in runs))
    return (f'<svg role="img" width="{width}" height="14" '
            f'viewBox="0 0 {width} 14" aria-label="tier over time">{"".join(rects)}</svg>'
            f"<div>{legend}</div>")  # fmt: skip


def _switch_list(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<p class="muted">No model switches.</p>'
    items = "".join(
        f"<tr><td>{_when(r.get('at'))}</td><td class=\"mono\">{_t(r.get('from_model'))} → {_t(r.get('to_model'))}</td>"
        f"<td>{_t(r.get('direction'))}</td><td>{_t(r.get('cause'))}</td></tr>"
        for r in rows
    )
    return f"<table><tr><th>switch at</th><th>model</th><th>direction</th><th>cause</th></tr>{items}</table>"


def _timeline(rows: list[dict[str, Any]], responses: list[dict[str, Any]]) -> str:
    """The session's prompts, commands, errors and compactions; each prompt with its turn's models and cost."""
    shown = [r for r in rows if r["kind"] in TIMELINE_KINDS or r.get("is_error")
             or r.get("subtype") == "compact_boundary"]  # fmt: skip
    if not shown:
        return ""
    turns = _turn_figures([r["ts"] for r in rows if r["kind"] == "prompt" and r.get("ts")], responses)
    items = "".join(
        f"<tr><td>{_when(r.get('ts'))}</td><td>{_t(r['kind'])}{' (error)' if r.get('is_error') else ''}</td>"
        f"<td class=\"mono\">{_t(r.get('name') or r.get('subtype'))}</td>"
        f"{_turn_cells(turns.get(r['ts']) if r['kind'] == 'prompt' else None)}"
        f"<td class=\"text\">{_t(r.get('text'))}</td></tr>"
        for r in shown[:MAX_EVENTS]
    )
    more = ""
    if len(shown) > MAX_EVENTS:
        more = f'<p class="muted">{len(shown) - MAX_EVENTS} more lines in the events file.</p>'
    return (f"<table><tr><th>time (UTC)</th><th>event</th><th>name</th><th>turn's models</th>"
            f'<th class="n">turn cost</th><th>text</th></tr>{items}</table>{more}')  # fmt: skip


def _turn_figures(prompts: list[datetime], responses: list[dict[str, Any]]) -> dict[datetime, tuple[str, float | None]]:
    """Per prompt time: the models and the cost of the responses up to the next prompt (subagents included)."""
    starts = sorted(set(prompts))
    out: dict[datetime, tuple[list[str], float | None]] = {t: ([], 0.0) for t in starts}
    for r in sorted((r for r in responses if r.get("ts")), key=lambda r: r["ts"]):
        owner = next((t for t in reversed(starts) if t <= r["ts"]), None)
        if owner is None:
            continue
        models, cost = out[owner]
        if r.get("model") and r["model"] not in models and not r.get("is_sidechain"):
            models.append(r["model"])
        out[owner] = (models, None if cost is None or r.get("cost_usd") is None else cost + r["cost_usd"])
    return {t: (", ".join(models), cost) for t, (models, cost) in out.items()}


def _turn_cells(figures: tuple[str, float | None] | None) -> str:
    if figures is None:
        return "<td></td><td></td>"
    models, cost = figures
    return f'<td class="mono">{_t(models)}</td><td class="n">{money(cost)}</td>'


def _by_session(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        out[r.get("session_id") or ""].append(r)
    return out


def _t(value: Any) -> str:
    """Any value as escaped plain text with control characters made visible (SPEC §8)."""
    if value is None:
        return ""
    text: str = escape(printable(str(value)), quote=True)
    return text


_a = _t
"""Attribute values are escaped the same way (quotes included)."""


def _plain(value: Any) -> str:
    if isinstance(value, datetime):
        return _when(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _usd(value: float | None) -> str:
    """The ` data-usd` attribute of a money cell; none for an unpriced one (it is not $0)."""
    return "" if value is None else f' data-usd="{round(value, 6)}"'


def _cell(value: Any) -> str:
    if isinstance(value, datetime):
        return _when(value)
    if isinstance(value, float):
        return f'<span data-usd="{round(value, 6)}">{money(value)}</span>'
    return _t(value)


def _when(value: Any) -> str:
    return timestamp(value, seconds=True) if isinstance(value, datetime) else _t(value)


def _chip(tier: Any) -> str:
    colour = TIER_COLOURS.get(str(tier), "#888")
    return f'<span class="chip" style="background:{colour}">{_t(tier)}</span>'


def _bar(share: float, tier: str, width: int = 160) -> str:
    w = max(share * width, 0.0)
    return (f'<svg width="{width}" height="10" viewBox="0 0 {width} 10">'
            f'<rect width="{width}" height="10" fill="#eee"/><rect width="{w:.1f}" height="10" '
            f'fill="{TIER_COLOURS.get(tier, "#888")}"/></svg>')  # fmt: skip
