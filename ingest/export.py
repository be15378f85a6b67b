"""Exports for auditors: selected sessions as JSONL, CSV, Parquet and HTML, with a manifest.

`collect` reads one selection out of the store into Arrow tables, with every
string scrubbed of secrets and, unless text is kept, transcript text reduced
to its length. `write_export` writes those tables into one folder and never
outside it: each file is staged under a private temporary name (created
0600, never through a symlink), hashed, then renamed into place; the
manifest, written last, lists every file with its rows, bytes and SHA-256.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, BinaryIO

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from tiermon.ingest.redact import redact, scrub
from tiermon.ingest.reports import TOKEN_FIELDS, ReportFilter
from tiermon.ingest.store import Store
from tiermon.ingest.times import naive_utc

FORMATS = ("jsonl", "csv", "parquet", "html")
"""Every format `write_export` knows; `all` on the command line means these."""

TABLES = ("responses", "events", "sessions", "tiers", "switches", "subagents", "alerts", "advice")
"""The tables of a tabular export, in the order they are written."""

TIERS = ("haiku", "sonnet", "opus", "other")

TEXT_KEYS = frozenset({"text", "prompt", "command", "commands", "question", "reply", "replies", "snippet",
                       "summary", "description", "input", "response", "message", "last_text", "messages",
                       "discriminator", "detail", "details", "reason"})  # fmt: skip
"""Columns and signal-row keys (at any depth) whose values hold transcript text: redacted by default."""

HTML_NAME = "report.html"
MANIFEST_NAME = "manifest.json"

_FALLBACK_COLUMNS: dict[str, tuple[str, ...]] = {
    "switches": ("session_id", "at", "from_model", "to_model", "from_tier", "to_tier", "direction", "cause"),
    "subagents": ("session_id", "agent_id", "agent_type", "model", "tier", "requests", "cost_usd"),
    "alerts": ("session_id", "kind", "severity", "start", "end"),
    "advice": ("session_id", "kind", "from_tier", "to_tier", "turn", "start", "end", "cost_usd",
               "counterfactual_cost_usd"),
}  # fmt: skip
"""Columns of a signal table that came back empty, so every file still has a header."""

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class ExportError(ValueError):
    """A bad selection or output folder; the message is one line for the user."""


class EmptySelection(ExportError):
    """The filters match no API response: there is nothing to export."""


@dataclass(frozen=True)
class Selection:
    """Which sessions and rows an export holds; filters combine with AND."""

    sessions: tuple[str, ...] = ()
    """Full session ids (see `resolve_sessions`)."""
    project: str | None = None
    since: date | None = None
    until: date | None = None
    tz: str = "UTC"

    def where(self) -> tuple[str, list[Any]]:
        """SQL conditions on responses `r`, with their parameters."""
        clause, params = ReportFilter(since=self.since, until=self.until, project=self.project, tz=self.tz).where()
        if self.sessions:
            clause += f" AND r.session_id IN ({', '.join('?' * len(self.sessions))})"
            params = [*params, *self.sessions]
        return clause, params

    def time_where(self) -> tuple[str, list[Any]]:
        """SQL conditions on the `ts` of `r` alone (for events, which carry no project)."""
        clause, params = ReportFilter(since=self.since, until=self.until, tz=self.tz).where()
        return clause, params

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """--since/--until as naive UTC moments: [low, high)."""
        params = iter(self.time_where()[1])
        return (next(params) if self.since else None), (next(params) if self.until else None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sessions": list(self.sessions), "project": self.project,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None, "timezone": self.tz,
        }  # fmt: skip


@dataclass
class ExportData:
    """One selection, read and cleaned, ready to write in any format."""

    selection: Selection
    include_text: bool
    tables: dict[str, pa.Table]
    price_version: str | None
    schema_version: int
    signals_available: bool = True
    """False when `tiermon.ingest.signals.views` is missing: no switches, subagents, alerts or advice."""
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def rows(self, name: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.tables[name].to_pylist()
        return rows


@dataclass(frozen=True)
class FileRecord:
    """One written file as the manifest lists it."""

    name: str
    format: str
    table: str
    rows: int
    bytes: int
    sha256: str


# -- selecting -------------------------------------------------------------------


def resolve_sessions(store: Store, given: Iterable[str]) -> tuple[str, ...]:
    """Full session ids for ids or unique prefixes; ExportError names the first that fails."""
    out: list[str] = []
    for wanted in given:
        wanted = wanted.strip()
        if not wanted:
            raise ExportError("--session needs a session id")
        matches = [
            r[0] for r in store.query(
                """SELECT DISTINCT session_id FROM (
                     SELECT session_id FROM responses UNION ALL SELECT session_id FROM events)
                   WHERE session_id = ? OR starts_with(session_id, ?) ORDER BY session_id LIMIT 4""",
                [wanted, wanted],
            )
        ]  # fmt: skip
        if wanted in matches:
            matches = [wanted]
        if not matches:
            raise ExportError(f"no session {wanted!r} in the store (see `tiermon report session`)")
        if len(matches) > 1:
            raise ExportError(f"session {wanted!r} is ambiguous: it starts {', '.join(matches[:3])}, …")
        if matches[0] not in out:
            out.append(matches[0])
    return tuple(out)


def collect(store: Store, selection: Selection, *, include_text: bool = False) -> ExportData:
    """Every table of the export for `selection`; EmptySelection when no API response matches."""
    where, params = selection.where()
    con = store.con.cursor()  # a fresh cursor: relations must not meet an unfinished result
    try:
        con.execute("SET TimeZone = 'UTC'")
        responses = _fetch(con, f"SELECT r.* FROM responses r WHERE {where} ORDER BY r.ts NULLS LAST, r.k", params)
        if responses.num_rows == 0:
            raise EmptySelection("no API responses match these filters: nothing exported")
        ids = sorted(set(responses.column("session_id").to_pylist()) - {None})
        events = _events(con, selection, ids)
        signals = _signals(store, ids, selection)
        available = signals is not None
        signals = signals or {name: [] for name in _FALLBACK_COLUMNS}
        tables = {
            "responses": responses, "events": events, "sessions": _sessions(con, where, params, signals),
            "tiers": _fetch(con, _TIERS_SQL.format(where=where), params),
        }  # fmt: skip
    finally:
        con.close()
    tables = {name: _clean(table, redacting=not include_text) for name, table in tables.items()}
    for name, rows in signals.items():
        cleaned = [_clean_value(row, redacting=not include_text) for row in rows]
        tables[name] = _clean(_records_table(cleaned, _FALLBACK_COLUMNS[name]), redacting=False)
    tables = {name: tables[name] for name in TABLES}
    return ExportData(
        selection=selection, include_text=include_text, tables=tables,
        price_version=store.meta("price_version"), schema_version=store.schema_version(),
        signals_available=available,
    )  # fmt: skip


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> pa.Table:
    return con.sql(sql, params=params).to_arrow_table()


def _events(con: duckdb.DuckDBPyConnection, selection: Selection, ids: list[str]) -> pa.Table:
    """The selected sessions' timeline; with a date range, only what happened inside it."""
    clause, params = selection.time_where()
    if clause != "TRUE":
        clause = f"(r.ts IS NULL OR ({clause}))"
    con.register("export_sessions", pa.table({"session_id": pa.array(ids, pa.string())}))
    try:
        return _fetch(
            con,
            f"""SELECT r.* FROM events r WHERE r.session_id IN (SELECT session_id FROM export_sessions) AND {clause}
                ORDER BY r.session_id, r.ts NULLS FIRST, r.file_path, r.line_offset, r.k""",
            params,
        )
    finally:
        con.unregister("export_sessions")


_SUMS = ", ".join(f"sum(r.{f})::BIGINT AS {f}" for f in TOKEN_FIELDS)
_TIER_COSTS = ", ".join(f"coalesce(sum(r.cost_usd) FILTER (WHERE r.tier = '{t}'), 0) AS cost_{t}" for t in TIERS)

_SESSIONS_SQL = f"""
SELECT r.session_id, arg_min(r.project, r.ts) AS project, arg_max(r.git_branch, r.ts) AS git_branch,
       any_value(r.source_kind) AS source_kind, min(r.ts) AS start, max(r.ts) AS "end",
       count(*) AS requests, {_SUMS}, coalesce(sum(r.cost_usd), 0) AS cost_usd,
       count(*) FILTER (WHERE NOT r.priced) AS unpriced_requests, {_TIER_COSTS},
       count(*) FILTER (WHERE r.is_sidechain) AS subagent_requests,
       string_agg(DISTINCT r.model, ' ' ORDER BY r.model) AS models
FROM responses r WHERE {{where}} GROUP BY r.session_id ORDER BY start, r.session_id
"""

_TIERS_SQL = f"""
SELECT r.tier, count(*) AS requests, {_SUMS}, coalesce(sum(r.cost_usd), 0) AS cost_usd,
       count(*) FILTER (WHERE NOT r.priced) AS unpriced_requests,
       string_agg(DISTINCT r.model, ' ' ORDER BY r.model) AS models
FROM responses r WHERE {{where}} GROUP BY r.tier
ORDER BY CASE r.tier WHEN 'haiku' THEN 0 WHEN 'sonnet' THEN 1 WHEN 'opus' THEN 2 ELSE 3 END, r.tier
"""


def _sessions(con: duckdb.DuckDBPyConnection, where: str, params: list[Any],
              signals: dict[str, list[dict[str, Any]]]) -> pa.Table:  # fmt: skip
    """One summary row per session, with how many switches, subagents, alerts and advice it has."""
    table = _fetch(con, _SESSIONS_SQL.format(where=where), params)
    ids = table.column("session_id").to_pylist()
    for name in ("switches", "subagents", "alerts", "advice"):
        seen: dict[str, set[Any]] = {}
        for i, row in enumerate(signals[name]):  # subagent rows are per agent and model: count agents
            seen.setdefault(str(row.get("session_id")), set()).add(row.get("agent_id") if name == "subagents" else i)
        table = table.append_column(name, pa.array([len(seen.get(s, ())) for s in ids], pa.int64()))
    return table


def _signals(store: Store, ids: list[str], selection: Selection) -> dict[str, list[dict[str, Any]]] | None:
    """Switches, subagents, alerts and advice of the sessions; None if the signals engine is missing."""
    try:
        from tiermon.ingest.signals.views import list_advice, list_alerts, session_subagents, session_switches
    except ImportError:
        return None
    wanted = set(ids)
    out: dict[str, list[dict[str, Any]]] = {}
    for name, per_session in (("switches", session_switches(store, ids)), ("subagents", session_subagents(store, ids))):
        out[name] = [{"session_id": sid, **row} for sid in ids for row in per_session.get(sid, [])]
    for name, lister in (("alerts", list_alerts), ("advice", list_advice)):
        if len(ids) <= 20:  # `session` matches a prefix: keep only the session asked for
            rows = [row for sid in ids for row in lister(store, session=sid) if row.get("session_id") == sid]
        else:
            rows = [row for row in lister(store, session=None) if row.get("session_id") in wanted]
        out[name] = sorted(rows, key=lambda r: (str(r.get("session_id")), str(r.get("start") or "")))
    out["switches"] = [r for r in out["switches"] if _in_range(r.get("at"), selection)]
    for name in ("alerts", "advice"):
        out[name] = [r for r in out[name] if _in_range(r.get("start"), selection)]
    return out


def _in_range(value: Any, selection: Selection) -> bool:
    """Whether a signal's moment falls inside --since/--until (unknown moments are kept)."""
    moment = naive_utc(value)
    if moment is None:
        return True
    low, high = selection.bounds()
    return (low is None or moment >= low) and (high is None or moment < high)


def _records_table(rows: list[dict[str, Any]], fallback: tuple[str, ...]) -> pa.Table:
    """Rows of open shape as a table: the union of their keys, nested values as JSON text."""
    columns: dict[str, None] = dict.fromkeys(fallback if not rows else ())
    for row in rows:
        columns.update(dict.fromkeys(row))
    data: dict[str, pa.Array] = {}
    for name in columns:
        values = [_flat(row.get(name)) for row in rows]
        try:
            data[name] = pa.array(values) if rows else pa.array([], pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            data[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.table(data)


def _flat(value: Any) -> Any:
    if isinstance(value, (list, tuple, dict, set)):
        return json.dumps(value, default=_json_default, sort_keys=True)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


# -- cleaning --------------------------------------------------------------------


def _clean(table: pa.Table, *, redacting: bool) -> pa.Table:
    """Scrub every string, redact text columns when `redacting`, and mark timestamps as UTC."""
    for i, col in enumerate(table.schema):
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            clean: Callable[[str], str | None] = redact if redacting and col.name in TEXT_KEYS else scrub
            values = [None if v is None else clean(v) for v in table.column(i).to_pylist()]
            table = table.set_column(i, col.name, pa.array(values, pa.string()))
        elif pa.types.is_timestamp(col.type) and col.type.tz is None:
            table = table.set_column(i, col.name, table.column(i).cast(pa.timestamp(col.type.unit, tz="UTC")))
    return table


def _clean_value(value: Any, *, redacting: bool, text: bool = False) -> Any:
    """A signal row cleaned at any depth: strings scrubbed, values under TEXT_KEYS redacted."""
    if isinstance(value, str):
        return redact(value) if text else scrub(value)
    if isinstance(value, dict):
        return {k: _clean_value(v, redacting=redacting, text=text or (redacting and k in TEXT_KEYS))
                for k, v in value.items()}  # fmt: skip
    if isinstance(value, (list, tuple, set)):
        return [_clean_value(v, redacting=redacting, text=text) for v in value]
    return value


# -- writing ---------------------------------------------------------------------


Writer = Callable[[BinaryIO], object]
"""Writes one file's bytes into an open binary file."""


@dataclass(frozen=True)
class Planned:
    """A file to write: its name, what it holds, and how to write it."""

    name: str
    format: str
    table: str
    rows: int
    write: Writer


def write_export(data: ExportData, out_dir: Path, formats: Iterable[str], *, prefix: str = "",
                 csv_cell: Callable[[Any], Any] = lambda v: v) -> dict[str, Any]:  # fmt: skip
    """Write the chosen formats and the manifest into `out_dir`; returns the manifest.

    `csv_cell` neutralises spreadsheet formulas (the CLI passes its `csv_safe`).
    """
    wanted = set(formats)
    chosen = [f for f in FORMATS if f in wanted]
    unknown = wanted - set(FORMATS)
    if unknown or not chosen:
        raise ExportError(
            f"unknown format {', '.join(sorted(unknown)) or '(none)'} (choose from {', '.join(FORMATS)}, all)"
        )
    folder = OutputDir(out_dir)
    plan: list[Planned] = []
    for fmt in chosen:
        if fmt == "html":
            from tiermon.ingest.export_html import render_html

            html = render_html(data).encode("utf-8")
            plan.append(Planned(f"{prefix}{HTML_NAME}", fmt, "report", data.tables["sessions"].num_rows,
                                _bytes_writer(html)))  # fmt: skip
            continue
        for name in TABLES:
            table = data.tables[name]
            plan.append(Planned(f"{prefix}{name}.{fmt}", fmt, name, table.num_rows, _writer(fmt, table, csv_cell)))
    records = folder.write_all(plan)
    manifest = _manifest(data, chosen, records)
    body = (json.dumps(manifest, indent=2) + "\n").encode("utf-8")
    folder.write_all([Planned(f"{prefix}{MANIFEST_NAME}", "json", "manifest", 0, _bytes_writer(body))])
    return manifest


def _bytes_writer(data: bytes) -> Writer:
    return lambda fh: fh.write(data)


def _writer(fmt: str, table: pa.Table, csv_cell: Callable[[Any], Any]) -> Writer:
    if fmt == "parquet":
        return lambda fh: pq.write_table(table, fh, compression="zstd")
    if fmt == "jsonl":
        return lambda fh: _write_jsonl(table, fh)
    return lambda fh: _write_csv(table, fh, csv_cell)


def _write_jsonl(table: pa.Table, fh: BinaryIO) -> None:
    fh.writelines((json.dumps(row, default=_json_default, ensure_ascii=False) + "\n").encode("utf-8")
                  for row in _rows(table))  # fmt: skip


def _write_csv(table: pa.Table, fh: BinaryIO, csv_cell: Callable[[Any], Any]) -> None:
    text = io.TextIOWrapper(fh, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(table.column_names)
    for row in _rows(table):
        writer.writerow([csv_cell(_csv_value(v)) for v in row.values()])
    text.flush()
    text.detach()


def _rows(table: pa.Table) -> Iterator[dict[str, Any]]:
    for batch in table.to_batches(max_chunksize=10_000):
        yield from batch.to_pylist()


def _csv_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return _json_default(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _manifest(data: ExportData, formats: list[str], records: list[FileRecord]) -> dict[str, Any]:
    from tiermon import __version__

    tiers = {row["tier"]: {"requests": row["requests"], "cost_usd": round(row["cost_usd"], 6)}
             for row in data.rows("tiers")}  # fmt: skip
    return {
        "generator": "tiermon export",
        "tiermon_version": __version__,
        "price_version": data.price_version,
        "schema_version": data.schema_version,
        "created_at": _json_default(data.created_at),
        "filters": data.selection.as_dict(),
        "redaction": {"text_redacted": not data.include_text, "secrets_scrubbed": True},
        "signals_available": data.signals_available,
        "formats": formats,
        "totals": {
            "sessions": data.tables["sessions"].num_rows,
            "responses": data.tables["responses"].num_rows,
            "events": data.tables["events"].num_rows,
            "cost_usd": round(sum(t["cost_usd"] for t in tiers.values()), 6),
            "tiers": tiers,
        },
        "note": "Costs are estimates at list price.",
        "files": [
            {"name": r.name, "format": r.format, "table": r.table, "rows": r.rows, "bytes": r.bytes, "sha256": r.sha256}
            for r in records
        ],
    }


class OutputDir:
    """A folder that files are written into and never out of.

    Names must be plain file names; an existing symlink (or anything but a
    regular file) at a target is refused, never followed; files are created
    0600 under a temporary name and renamed into place only when all are written.
    """

    def __init__(self, path: Path) -> None:
        path = path.expanduser()
        try:
            if not path.exists():
                path.mkdir(parents=True, mode=0o700)
            self.path = path.resolve(strict=True)
        except OSError as exc:
            raise ExportError(f"cannot use output folder {path}: {exc.strerror or exc}") from exc
        if not self.path.is_dir():
            raise ExportError(f"output folder {path} is not a folder")

    def target(self, name: str) -> Path:
        """The path of `name` inside the folder; ExportError if it would land anywhere else."""
        bad = not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name
        candidate = self.path / name
        if bad or Path(name).is_absolute() or candidate.parent != self.path:
            raise ExportError(f"file name {name!r} would leave the output folder {self.path}")
        try:
            mode = candidate.lstat().st_mode
        except FileNotFoundError:
            return candidate
        if stat.S_ISLNK(mode):
            raise ExportError(f"refusing to write through the symlink {candidate}")
        if not stat.S_ISREG(mode):
            raise ExportError(f"{candidate} exists and is not a regular file")
        return candidate

    def write_all(self, plan: list[Planned]) -> list[FileRecord]:
        """Stage every file, then move them all into place; on failure nothing is replaced."""
        targets = [self.target(p.name) for p in plan]
        if len(set(targets)) != len(targets):
            raise ExportError("two export files would have the same name")
        staged: list[tuple[Path, Path]] = []
        records: list[FileRecord] = []
        try:
            for p, target in zip(plan, targets, strict=True):
                temp, size, digest = self._stage(p.name, p.write)
                staged.append((temp, target))
                records.append(FileRecord(p.name, p.format, p.table, p.rows, size, digest))
            for temp, target in staged:
                self.target(target.name)
                os.replace(temp, target)
        finally:
            for temp, _ in staged:
                temp.unlink(missing_ok=True)
        return records

    def _stage(self, name: str, write: Writer) -> tuple[Path, int, str]:
        """Write one file under a fresh private name; returns it with its size and SHA-256."""
        temp = self.path / f".{name}.{secrets.token_hex(6)}.tmp"
        fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC, 0o600)
        try:
            with os.fdopen(fd, "w+b") as fh:
                write(fh)
                fh.flush()
                fh.seek(0)
                digest = hashlib.sha256()
                size = 0
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return temp, size, digest.hexdigest()
