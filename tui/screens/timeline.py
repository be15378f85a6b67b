"""Turns a session timeline (signals.views.session_timeline) into the Session pane's rows.

One list in time order: each turn's prompt, the responses inside it with
their model, model switches with their cause, and compactions. Each row
carries its cells (plain Text only: prompts are hostile input) and a longer
detail shown under the table for the highlighted row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text

from tiermon.ingest import formatting as fmt
from tiermon.tui.widgets.cells import TIER_STYLES, clock_time, model_short, model_text, money, plain, plain_block, safe

_ORDER = {"turn": 0, "switch": 1, "compaction": 2, "response": 3}
"""At equal times: the prompt first, then what changed, then the response."""


def timeline_rows(data: dict[str, Any], room: int = 70) -> list[dict[str, Any]]:
    """All rows in time order; `room` is how many cells a prompt may take in the table."""
    rows = [_turn(t, room) for t in data.get("turns") or []]
    rows += [_response(r) for r in data.get("responses") or []]
    rows += [_switch(s) for s in data.get("switches") or []]
    rows += [_compaction(c) for c in data.get("compactions") or []]
    rows.sort(key=lambda r: (r["ts"] or datetime.min, _ORDER[r["kind"]]))
    for index, row in enumerate(rows):
        row["key"] = f"{row['kind']}-{index}"
    return rows


def _row(kind: str, ts: datetime | None, cells: list[Text], detail: Text, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "ts": ts, "cells": cells, "detail": detail, **extra}


def _turn(t: dict[str, Any], room: int) -> dict[str, Any]:
    number = t.get("turn")
    what = Text(f"▶ #{number} ", style="bold")
    what.append_text(plain(t.get("prompt") or "(before the first prompt)", room, style="bold"))
    models = ", ".join(model_short(m) for m in t.get("models") or [])
    calls = fmt.plural(t.get("tool_calls") or 0, "tool call")
    detail = Text(f"Turn {number} · {clock_time(t.get('start'))}–{clock_time(t.get('end'))} · {models}"
                  f" · {fmt.plural(t.get('responses') or 0, 'response')} · {calls}"
                  f" ({t.get('tool_errors') or 0} failed) · {money(t.get('cost_usd')).plain}\n", style="dim")
    detail.append_text(plain_block(t.get("prompt") or ""))
    cells = [
        Text(clock_time(t.get("start")), style="bold"),
        plain(models, 16, style="bold"),
        Text(fmt.tokens(t.get("max_context")), justify="right"),
        Text(fmt.tokens(t.get("output_tokens")), justify="right"),
        money(t.get("cost_usd")),
        what,
    ]
    return _row("turn", t.get("start"), cells, detail, turn=number)


def _response(r: dict[str, Any]) -> dict[str, Any]:
    side = bool(r.get("is_sidechain") or r.get("agent_id"))
    what = Text("  ↳ subagent " if side else "  ", style="dim")
    if side:
        what.append_text(plain(r.get("agent_type") or r.get("agent_id") or "", 24, style="dim"))
    detail = Text(f"{safe(r.get('model'))} · context {fmt.tokens(r.get('context_tokens'))}"
                  f" · output {fmt.tokens(r.get('output_tokens'))} · {money(r.get('cost_usd')).plain}", style="dim")
    cells = [
        Text(clock_time(r.get("ts")), style="dim"),
        model_text(r.get("model"), r.get("tier"), 16),
        Text(fmt.tokens(r.get("context_tokens")), justify="right", style="dim" if side else ""),
        Text(fmt.tokens(r.get("output_tokens")), justify="right"),
        money(r.get("cost_usd")),
        what,
    ]
    return _row("response", r.get("ts"), cells, detail)


def _switch(s: dict[str, Any]) -> dict[str, Any]:
    down_auto = s.get("direction") == "down" and s.get("cause") == "automatic"
    style = "bold red" if down_auto else "bold yellow"
    what = Text("⇄ ", style=style)
    what.append(model_short(s.get("from_model")), style=TIER_STYLES.get(s.get("from_tier") or "", ""))
    what.append(" → ")
    what.append(model_short(s.get("to_model")), style=TIER_STYLES.get(s.get("to_tier") or "", ""))
    what.append(f"  {s.get('cause')} · {s.get('direction')}", style=style)
    detail = Text(
        f"Model switch at {clock_time(s.get('at'))}: cause {s.get('cause')}, direction {s.get('direction')}",
        style="dim",
    )
    if s.get("detail"):
        detail.append(" · ")
        detail.append_text(plain(s["detail"], 80))
    if down_auto:
        detail.append(
            "  An automatic downgrade: the session moved to a cheaper model without being asked.", style="red"
        )
    cells = [
        Text(clock_time(s.get("at")), style=style), Text("switch", style=style), Text(""), Text(""), Text(""), what
    ]
    return _row("switch", s.get("at"), cells, detail)


def _compaction(c: dict[str, Any]) -> dict[str, Any]:
    what = Text(f"⟲ compaction ({c.get('trigger') or '?'})", style="bold cyan")
    if c.get("pre_tokens"):
        what.append(f" at {fmt.tokens(c['pre_tokens'])} tokens", style="cyan")
    cells = [
        Text(clock_time(c.get("ts")), style="cyan"), Text("compact", style="cyan"), Text(""), Text(""), Text(""), what
    ]
    return _row("compaction", c.get("ts"), cells, Text("The conversation was summarised to free context.", style="dim"))
