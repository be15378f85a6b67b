"""The table form of `tiermon report`: loaded only when a table is printed, since rich costs ~20 ms."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tiermon.ingest import formatting as fmt

ESTIMATE_NOTE = "Figures are estimates at list price."
NO_TIME = "(no time)"
"""The period of responses whose timestamp could not be read: counted, but in no day."""


def print_table(out: Console, kind: str, data: dict[str, Any], breakdown: bool) -> None:
    key = next(k for k in data if k != "totals")
    rows = data[key]
    if not rows:
        out.print("No usage in this range.")
        return
    if kind == "blocks":
        _print_blocks(out, rows, data["totals"])
        return
    table = Table(title=f"tiermon {kind} report", title_justify="left", show_footer=True, box=box.SIMPLE_HEAD)
    first = {"session": "session", "model": "model", "blocks": "block start"}.get(kind, "period")
    grouped = any("group" in r for r in rows)
    table.add_column(first, footer="Total", no_wrap=True)
    if grouped:
        table.add_column("group", overflow="ellipsis", max_width=24)
    if kind == "session":
        table.add_column("project", overflow="ellipsis", max_width=20, no_wrap=True)
    t = data["totals"]
    for name, field in (("req", "requests"), ("input", "input_tokens"), ("output", "output_tokens"),
                        ("c.read", "cache_read_tokens"), ("w.5m", "cache_write_5m_tokens"),
                        ("w.1h", "cache_write_1h_tokens")):  # fmt: skip
        table.add_column(name, justify="right", no_wrap=True,
                         footer=fmt.tokens(t.get(field)) if field != "requests" else str(t["requests"]))
    table.add_column("cost", justify="right", no_wrap=True, footer=fmt.money(t["cost_usd"]))
    for row in rows:
        _add_row(table, kind, row, grouped)
        if breakdown and kind not in ("model", "blocks"):
            for m in row.get("models", []):
                table.add_row(*_model_cells(m, grouped, kind), style="dim")
    out.print(table)
    notes = [ESTIMATE_NOTE]
    if t["unpriced_models"]:
        names = ", ".join(f"{m['model']} ({fmt.plural(m['requests'], 'request')})" for m in t["unpriced_models"])
        notes.append(f"Unpriced, not in the totals: {names}. Add them to prices.toml (see `tiermon prices`).")
    out.print(Text(" ".join(notes), style="dim"))
    for row in rows:
        if row.get("repriced"):
            out.print(Text(_repricing_note(row), style="dim"))
        if row.get("proxy"):
            out.print(Text(f"{row['model']} has no price: at {row['proxy']['model']}'s list price (models.toml"
                           f" price_as; a third-party price, not this model's) its tokens would cost"
                           f" {fmt.money(row['proxy_cost_usd'])}, not in the totals.", style="dim"))


def _repricing_note(row: dict[str, Any]) -> str:
    again, speed = row["repriced"], row.get("tokens_per_second")
    rate = f", {speed:,.1f} tokens/s" if speed else ""
    return (f"{row['model']} runs locally ($0 in API fees{rate}); the same tokens at {again['model']}'s list price"
            f" would cost {fmt.money(again['cost_usd'])} (a re-pricing, not a prediction).")  # fmt: skip


def _label(kind: str, row: dict[str, Any]) -> str:
    if kind == "session":
        return str(row["session_id"])[:8] if not str(row["session_id"]).startswith("api:") else str(row["session_id"])
    if kind == "model":
        return str(row["model"])
    if kind == "blocks":
        start: datetime = row["start"]
        return start.strftime("%Y-%m-%d %H:%M") + (" (active)" if row["is_active"] else "")
    return str(row["period"]) if row["period"] is not None else NO_TIME


def _add_row(table: Table, kind: str, row: dict[str, Any], grouped: bool) -> None:
    cells: list[Any] = [Text(_label(kind, row))]
    if grouped:
        cells.append(Text(str(row.get("group") or "")))
    if kind == "session":
        cells.append(Text(project_name(row.get("project"))))
    cells += [str(row["requests"])] + [fmt.tokens(row.get(f)) for f in (
        "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens",
        "cache_write_1h_tokens")]  # fmt: skip
    cells.append(_cost_cell(row))
    table.add_row(*cells)


def _print_blocks(out: Console, rows: list[dict[str, Any]], t: dict[str, Any]) -> None:
    """5-hour blocks: each figure under its own header, with the burn rate and the projection."""
    table = Table(title="tiermon blocks report", title_justify="left", show_footer=True, box=box.SIMPLE_HEAD)
    unpriced_tokens = sum(r.get("unpriced_tokens") or 0 for r in rows)
    table.add_column("block start", footer="Total", no_wrap=True)
    table.add_column("req", justify="right", footer=str(t["requests"]), no_wrap=True)
    table.add_column("tokens", justify="right", footer=fmt.tokens(sum(r["tokens"] for r in rows)), no_wrap=True)
    table.add_column("cost", justify="right", footer=fmt.money_part(t["cost_usd"], unpriced_tokens), no_wrap=True)
    table.add_column("burn/h", justify="right", no_wrap=True)
    table.add_column("projected", justify="right", no_wrap=True)
    table.add_column("models", overflow="ellipsis", max_width=40)
    for r in rows:
        burn = r.get("burn_rate_per_hour")
        table.add_row(
            Text(_label("blocks", r)), str(r["requests"]), fmt.tokens(r["tokens"]),
            fmt.money_part(r["cost_usd"], r.get("unpriced_tokens") or 0),
            fmt.money(burn) if burn is not None else fmt.UNPRICED,
            fmt.money(r["projected_cost_usd"]) if r.get("is_active") else "–",
            Text(", ".join(short_model(m) for m in r.get("models", []))),
        )  # fmt: skip
    out.print(table)
    notes = [ESTIMATE_NOTE, "Burn rate: cost per hour between the block's first and last request;"
             " projected: the active block's cost at that rate until it closes."]  # fmt: skip
    if unpriced_tokens:
        notes.append("Unpriced requests are not in the costs; their tokens are shown beside them.")
    out.print(Text(" ".join(notes), style="dim"))


def _cost_cell(row: dict[str, Any]) -> str:
    """Dollars, `unpriced` when nothing has a price, and `+ unpriced` when part of it has none."""
    if row.get("cost_usd") is None or row.get("priced") is False:
        return fmt.UNPRICED
    if row.get("vendor") == "local":
        return fmt.money(0.0) + " local"
    return fmt.money(row["cost_usd"]) + (f" + {fmt.UNPRICED}" if row.get("unpriced_requests") else "")


def _model_cells(m: dict[str, Any], grouped: bool, kind: str) -> list[Any]:
    cells: list[Any] = [Text("  " + short_model(m["model"]))]
    if grouped:
        cells.append("")
    if kind == "session":
        cells.append("")
    cells += [str(m["requests"])] + [fmt.tokens(m.get(f)) for f in (
        "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens",
        "cache_write_1h_tokens")]  # fmt: skip
    cells.append(fmt.money(m["cost_usd"]) if m.get("priced") else fmt.UNPRICED)
    return cells


def short_model(model: str) -> str:
    """`claude-sonnet-4-5-20250929` -> `sonnet-4-5`: the part that tells models apart."""
    from tiermon.ingest.models import model_base

    return model_base(model).removeprefix("claude-")


def project_name(path: str | None) -> str:
    """The last part of a project's path: what people call the project."""
    if not path:
        return ""
    return path.rstrip("/").rsplit("/", 1)[-1] or path
