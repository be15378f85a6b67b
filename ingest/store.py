"""The DuckDB store: schema, migrations, batched upserts and short-lived connections.

DuckDB lets one process hold a file read-write, and while it does no other
process may open it at all. Every writer and reader therefore opens, works and
closes (`Store.open`), retrying for a few seconds while another tiermon holds
the lock, and knocking (`<db>.knock`) so that the holder lets go. A TUI, a
report and an export can then share one database; each waits at most for the
other's current batch. A long-running process (the dashboard, `tiermon serve`)
may keep the file open between its operations (`keep_open`), letting go as
soon as another process knocks.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tiermon.ingest import duck
from tiermon.ingest.pricing import ROW_COST_SQL, ROW_PRICED_SQL, WINDOW_SQL, PriceTable
from tiermon.ingest.rows import AgentMeta, Batch
from tiermon.ingest.schema import (
    AGENT_META_COLUMNS,
    ALL_SIGNAL_TOTALS_SQL,
    API_ERRORS_DELTA_SQL,
    COMPACTIONS_DELTA_SQL,
    EMPTY_TOTALS_SQL,
    ENTRY_TYPE_COLUMNS,
    EVENT_COLUMNS,
    FILE_COLUMNS,
    KEY_INDEXES,
    MARK_REPLACED_SQL,
    MIGRATIONS,
    NEW_SESSIONS_SQL,
    PRICE_COLUMNS,
    RECOUNT_SQL,
    RESPONSE_COLUMNS,
    RETOTAL_SQL,
    SCHEMA_VERSION,
    SIGNAL_TOTALS_SQL,
    appended_totals_sql,
    count_delta_sql,
    create_table_sql,
    key_index_sql,
    session_totals_sql,
)

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

def lock_wait_seconds() -> float:
    """How long an operation waits for another tiermon to release the database: TIERMON_LOCK_WAIT, else 10 s.
    Read when asked, not at import: `tiermon serve` runs each forwarded command in its client's environment."""
    text = os.environ.get("TIERMON_LOCK_WAIT", "10")
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < 1e6:
        raise StoreError(f"TIERMON_LOCK_WAIT must be a number of seconds, not {text!r}")
    return seconds


BULK_OWNER_KEY = "bulk_load_pid"
"""`meta` key naming the process whose first load has the key indexes down."""
_BULK_GUARD = threading.RLock()
_BULK_HERE: set[str] = set()
"""Stores with a bulk load open in this process: its other connections must not build the key indexes
the load dropped (they would make its next insert of a repeated key fail) nor start a load of their own."""
KNOCK_SUFFIX = ".knock"
"""A process kept out by the lock touches `<db>.knock`; a long load lets it in only then."""
UNASKED_HOLD_SECONDS = 10.0
"""A load lets go this often even unasked: a waiter that cannot write the knock file still gets in."""
SLOW_MIGRATIONS: dict[int, tuple[str, ...]] = {3: ("responses", "events")}
"""Schema steps that copy whole tables: worth a word to the user when the store is big."""
ANNOUNCE_ROWS = 1_000_000
"""From this many rows a slow migration is announced (42 s for 22.7 M rows on a 2-core VM)."""

class StoreError(Exception):
    """A store problem the user can act on; the message is one line."""


_SCHEMA_COLUMNS: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "responses": (RESPONSE_COLUMNS, ("cost_usd", "priced")),  # priced by SQL on insert
    "events": (EVENT_COLUMNS, ()),
    "prices": (PRICE_COLUMNS, ()),
    "files": (FILE_COLUMNS, ()),
    "agent_meta": (AGENT_META_COLUMNS, ()),
    "entry_types": (ENTRY_TYPE_COLUMNS, ()),
}
_RESPONSE_BATCH_COLS = [name for name in RESPONSE_COLUMNS if name not in _SCHEMA_COLUMNS["responses"][1]]
_EVENT_COLS = list(EVENT_COLUMNS)
_ENTRY_TYPE_COLS = list(ENTRY_TYPE_COLUMNS)

VALUES_MAX_PARAMS = 4000
"""A write of up to this many values binds them as one parameterised VALUES list; more go through
Arrow. A live pass writes a handful of rows: importing pyarrow and building tables for them cost
more than the rest of its write."""
VALUES_MAX_PARAMS_ARROW_LOADED = 400
"""The same bound once pyarrow is imported anyway (a backfill's writer): binding a VALUES list costs
~20 µs a value, so the files' marks of a 1 GiB load (a few thousand values per commit) took 0.3 s of
the writer's CPU as VALUES, and the load ran 5 % faster as Arrow."""

Columns = dict[str, list[Any]]
"""Rows as one list per column, named as the target table's columns."""


@cache
def _schema(table: str) -> pa.Schema:
    """The Arrow schema `table`'s rows are written in. pyarrow (~25 ms to import) loads on the first
    write, so a pass that finds nothing new, like a report's over unchanged data, never pays for it."""
    import pyarrow as pa

    types = {"VARCHAR": pa.string(), "BIGINT": pa.int64(), "INTEGER": pa.int32(), "BOOLEAN": pa.bool_(),
             "TIMESTAMP": pa.timestamp("us"), "DOUBLE": pa.float64(), "BLOB": pa.binary()}  # fmt: skip
    return pa.schema([(name, types[ddl]) for name, ddl in _types(table).items()])


@cache
def _types(table: str) -> dict[str, str]:
    """Column -> DuckDB type of the rows written to `table` (the columns SQL fills on insert left out)."""
    columns, skip = _SCHEMA_COLUMNS[table]
    return {name: ddl.split()[0] for name, ddl in columns.items() if name not in skip}


PRICE_JOIN = f"""
LEFT JOIN prices p_exact ON p_exact.model = r.model
    AND {WINDOW_SQL} >= p_exact.valid_from AND {WINDOW_SQL} < p_exact.valid_to
LEFT JOIN prices p ON p.model = coalesce(p_exact.model, r.model_base)
    AND {WINDOW_SQL} >= p.valid_from AND {WINDOW_SQL} < p.valid_to
"""
"""Prices row `p` of response row `r`: its exact model id, else the id without suffixes, in the window
holding the response's time.

Two equi-joins with range conditions, not an `IN (SELECT …)` test: that one stops DuckDB from
pushing a time filter on `r` into the scan, so a one-week query read every row. The windows of
one id do not overlap, so each response meets at most one row.
"""

_KEEP_BETTER_COPY = """
WHERE excluded.output_tokens > responses.output_tokens
   OR (excluded.output_tokens = responses.output_tokens AND responses.is_sidechain AND NOT excluded.is_sidechain)
   OR (excluded.output_tokens = responses.output_tokens AND excluded.is_sidechain = responses.is_sidechain
       AND (excluded.file_path < responses.file_path
            OR (excluded.file_path = responses.file_path AND excluded.line_offset < responses.line_offset)))
"""
"""SPEC §3: of two copies of one response, keep the larger output, then the main-chain copy, then the
one earliest in (file, offset), so the result does not depend on the order files are read in."""

_BEST_COPY_FIRST = "output_tokens DESC, is_sidechain ASC, file_path ASC NULLS LAST, line_offset ASC NULLS LAST"
"""The same preference as _KEEP_BETTER_COPY, for ranking copies of a key inside one write."""

_FIRST_COPY_FIRST = {"responses": _BEST_COPY_FIRST, "events": "file_path ASC NULLS LAST, line_offset ASC NULLS LAST"}
"""Which copy of a key survives when a key index is (re)built: the one an upsert would have kept."""

@dataclass(frozen=True)
class FileMark:
    """Where the tailer stands in one file."""

    path: str
    source_kind: str
    dev: int
    inode: int
    head_hash: str
    size: int
    mtime: float
    offset: int
    lines: int
    tail_hash: str | None = None
    state: bytes | None = None
    """The source's parse state after `offset`, as its format encodes it."""


NEW_SESSIONS_LOOKUP_MAX = 200
"""Up to this many response rows, a write looks their sessions up in `session_totals` by key."""
SEAL_ROWS = 20_000
"""Rows kept as Python lists before they are packed into Arrow."""


@dataclass
class Pending:
    """Rows and file marks of any number of reads, waiting to be committed in one transaction.

    One transaction per read of a small file costs more than the file's rows:
    the tailer and the backfill gather many reads here and commit them at once.
    Parsed batches are gathered as column lists and packed into Arrow every
    SEAL_ROWS rows and at commit.
    """

    marks: dict[str, FileMark] = field(default_factory=dict)
    responses: list[pa.Table] = field(default_factory=list)
    events: list[pa.Table] = field(default_factory=list)
    quarantine: list[tuple[str, int, int, str, str]] = field(default_factory=list)
    entry_types: Counter[tuple[str, str, bool]] = field(default_factory=Counter)
    agent_meta: list[AgentMeta] = field(default_factory=list)
    rows: int = 0
    _response_cols: dict[str, list[Any]] = field(default_factory=dict, repr=False)
    _event_cols: dict[str, list[Any]] = field(default_factory=dict, repr=False)

    def add(self, mark: FileMark | None, batch: Batch, path: str | None = None) -> None:
        """One parsed read of a file; `mark` is its new place (None: the mark comes later)."""
        if batch.response_count:
            _extend(self._response_cols, batch.responses, _RESPONSE_BATCH_COLS)
            self.rows += batch.response_count
        if batch.event_count:
            _extend(self._event_cols, batch.events, _EVENT_COLS)
            self.rows += batch.event_count
        where = path if path is not None else (mark.path if mark is not None else "")
        self.quarantine.extend((where, *q) for q in batch.quarantine)
        self.entry_types.update(batch.entry_types)
        self.agent_meta.extend(batch.agent_meta)
        if mark is not None:
            self.marks[mark.path] = mark
        if len(self._event_cols.get("k", ())) + len(self._response_cols.get("k", ())) >= SEAL_ROWS:
            self.seal()  # Arrow holds rows in a third of the memory of Python objects

    def merge(self, other: Pending) -> None:
        """Take over everything `other` gathered (a backfill worker's sealed batch)."""
        other.seal()
        self.responses.extend(other.responses)
        self.events.extend(other.events)
        self.rows += other.rows
        self.quarantine.extend(other.quarantine)
        self.entry_types.update(other.entry_types)
        self.marks.update(other.marks)
        self.agent_meta.extend(other.agent_meta)

    def response_rows(self) -> pa.Table | Columns | None:
        """The gathered responses: their column lists while none were sealed, else one Arrow table."""
        return self._rows(self.responses, self._response_cols)

    def event_rows(self) -> pa.Table | Columns | None:
        """The gathered events, as `response_rows` hands out responses."""
        return self._rows(self.events, self._event_cols)

    def _rows(self, sealed: list[pa.Table], columns: Columns) -> pa.Table | Columns | None:
        if not sealed:
            return columns or None
        self.seal()
        return _concat(sealed)

    def seal(self) -> None:
        """Turn the gathered column lists into Arrow tables."""
        import pyarrow as pa

        if self._response_cols:
            self.responses.append(pa.Table.from_pydict(self._response_cols, schema=_schema("responses")))
            self._response_cols = {}
        if self._event_cols:
            self.events.append(pa.Table.from_pydict(self._event_cols, schema=_schema("events")))
            self._event_cols = {}

    def __bool__(self) -> bool:
        return bool(
            self.marks or self.responses or self.events or self.quarantine or self.entry_types
            or self.agent_meta or self._response_cols or self._event_cols
        )  # fmt: skip


def _holds(rows: pa.Table | Columns, column: str, value: str) -> bool:
    """Whether any row has `value` in `column`."""
    if isinstance(rows, dict):
        return value in rows.get(column, ())
    import pyarrow.compute as pc

    return column in rows.column_names and bool(pc.any(pc.equal(rows[column], value)).as_py())


_EVENT_COUNTERS = (("kind", "api_error", API_ERRORS_DELTA_SQL), ("subtype", "compact_boundary", COMPACTIONS_DELTA_SQL))
"""Counts in meta that every events write keeps (Health's API errors; the compactions the learned
limits are keyed on): (column, value, the delta statement)."""


def _extend(into: dict[str, list[Any]], cols: dict[str, list[Any]], names: list[str]) -> None:
    if not into:
        for name in names:
            into[name] = []
    for name in names:
        into[name].extend(cols[name])


STORED_MODELS_SQL = "SELECT DISTINCT model FROM response_counts WHERE model IS NOT NULL AND requests > 0"
"""Every model id stored, from the counters every write keeps: scanning the responses for them cost each
pass ~15-60 ms at 5 M responses, against ~2 ms here."""


class Store:
    """One open connection to the database file; use `Store.open` to get one."""

    def __init__(self, con: duck.DuckDBPyConnection, path: Path, read_only: bool) -> None:
        self.con = con
        self.path = path
        self.read_only = read_only
        self._bulk = False
        """True while key indexes are down for a bulk load: rows are appended, keys settled at the end."""
        self._settings: dict[str, str] = {}
        self._held_since = time.monotonic()
        self._held_since_wall = time.time()
        self._kept: KeptFile | None = None
        """The kept file this store is lent from (`keep_open`), if any."""

    # -- opening -----------------------------------------------------------------

    @classmethod
    @contextmanager
    def open(
        cls, path: Path, *, read_only: bool = False, wait: float | None = None, memory_limit: str | None = None
    ) -> Iterator[Store]:
        """Open, migrate if writable, yield, close. Waits while another process holds the lock.

        `memory_limit` caps DuckDB's buffer pool (default: 80 % of RAM); a long-running
        process sets it so that scanning a bigger store does not make it bigger.
        """
        wait = lock_wait_seconds() if wait is None else wait
        kept = _KEPT.get(os.path.realpath(path)) if _KEPT else None
        if kept is not None:
            with kept.lent(read_only, wait) as store:
                if memory_limit and store.bulk_key not in _BULK_HERE:
                    store._set("memory_limit", memory_limit)
                yield store
            return
        store = cls(_connect(path, read_only, wait), path, read_only)
        try:
            if memory_limit and store.bulk_key not in _BULK_HERE:  # instance-wide: a pane would cap the load too
                store._set("memory_limit", memory_limit)
            if read_only:
                store._check_version()
            else:
                store.migrate()
                store.ensure_key_indexes()
            yield store
        finally:
            store.con.close()

    def migrate(self) -> None:
        """Bring the schema to SCHEMA_VERSION, one recorded step at a time."""
        self.con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise StoreError(f"{self.path} was written by a newer tiermon (schema {current}); upgrade tiermon")
        for version in range(current + 1, SCHEMA_VERSION + 1):
            if version in SLOW_MIGRATIONS and current > 0:
                self._announce(version)
            self.con.begin()
            for stmt in MIGRATIONS[version]:
                self.con.execute(stmt)
            self._set_meta("schema_version", str(version))
            self.con.commit()

    def _announce(self, version: int) -> None:
        """Say so before a migration that rewrites the big tables: a large store takes a while, once."""
        tables = SLOW_MIGRATIONS[version]
        rows = sum(int(self.query(f"SELECT count(*) FROM {t}")[0][0]) for t in tables)
        if rows >= ANNOUNCE_ROWS:
            import logging  # only here: every command opens the store, few ever migrate it

            logging.getLogger("tiermon").warning(
                "tiermon: upgrading %s to schema %d: rewriting %s rows of %s, once (about 2 s per million rows)",
                self.path, version, f"{rows:,}", " and ".join(tables),
            )

    def schema_version(self) -> int:
        row = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def _check_version(self) -> None:
        try:
            version = self.schema_version()
        except duck.CatalogException:
            version = 0
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema {version}, tiermon needs {SCHEMA_VERSION}: run `tiermon ingest` once"
            )

    def meta(self, key: str) -> str | None:
        row = self.con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return str(row[0]) if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    # -- key indexes -------------------------------------------------------------

    def ensure_key_indexes(self) -> None:
        """Build any missing key index (a bulk load that did not finish), first settling duplicate keys.

        Not while another live process is bulk-loading: it builds them itself at the end.
        """
        with _BULK_GUARD:  # a bulk load of this process starting meanwhile waits, and is then seen
            owner = self.meta(BULK_OWNER_KEY)
            if self._loading_elsewhere(owner):
                return
            present = {r[0] for r in self.query("SELECT index_name FROM duckdb_indexes() WHERE schema_name = 'main'")}
            missing = [table for table, index in KEY_INDEXES.items() if index not in present]
            for table in missing:
                self._build_key_index(table)
            if missing or owner is not None:  # a load that died: its counters were not made either
                self.recount()
            if owner is not None:  # else other processes would keep taking it for a load still running here
                self.con.execute("DELETE FROM meta WHERE key = ?", [BULK_OWNER_KEY])

    def recount(self) -> None:
        """Make the Health counters and the session totals again from the rows (after writes that did not
        keep them)."""
        for stmt in [*RECOUNT_SQL, *RETOTAL_SQL]:
            self.con.execute(stmt)

    def settle_session_totals(self, sessions: list[str] | None) -> None:
        """Copy the signals' first prompt and turn count of `sessions` (None: every session, after a
        rebuild) into `session_totals`, which the Sessions list reads alone."""
        if sessions is None:
            self.con.execute(ALL_SIGNAL_TOTALS_SQL)
        elif sessions:
            self.con.execute(SIGNAL_TOTALS_SQL, [sessions])

    def _build_key_index(self, table: str) -> None:
        """Keep one row per key (the copy an upsert keeps), commit, then index: DuckDB sees a delete
        from the same transaction as a duplicate."""
        distinct = self.con.execute(f"SELECT count(*) = count(DISTINCT k) FROM {table}").fetchone()
        if distinct is not None and not distinct[0]:
            self.con.execute(
                f"""DELETE FROM {table} WHERE rowid IN (
                      SELECT rowid FROM (SELECT rowid, row_number() OVER (
                        PARTITION BY k ORDER BY {_FIRST_COPY_FIRST[table]}) AS n FROM {table})
                      WHERE n > 1)"""
            )
        self.con.execute(key_index_sql(table))

    @contextmanager
    def bulk_load(self) -> Iterator[bool]:
        """Load into empty responses and events without maintaining their key indexes; build them after.

        Yields whether bulk mode is on: only when both tables are empty (a first
        ingest), since rebuilding the index of a big table would cost more than
        it saves. If the process dies inside, the next writable open rebuilds them.
        """
        empty = all(self.query(f"SELECT NOT EXISTS (SELECT 1 FROM {table})")[0][0] for table in KEY_INDEXES)
        if not empty or self._bulk:
            yield False
            return
        with _BULK_GUARD:  # no connection of this process is building the indexes while they are dropped
            _BULK_HERE.add(self.bulk_key)
            self._set_meta(BULK_OWNER_KEY, str(os.getpid()))
            for index in KEY_INDEXES.values():
                self.con.execute(f"DROP INDEX IF EXISTS {index}")
        self._bulk = True
        try:
            try:
                yield True
            finally:
                self._bulk = False
            for table in KEY_INDEXES:
                self._build_key_index(table)
            self.recount()
            self.con.execute("DELETE FROM meta WHERE key = ?", [BULK_OWNER_KEY])
        finally:
            _BULK_HERE.discard(self.bulk_key)

    @property
    def bulk_key(self) -> str:
        """The file as `_BULK_HERE` names it: one spelling for every path DuckDB takes for the same file."""
        return os.path.realpath(self.path)

    def bulk_load_elsewhere(self) -> bool:
        """Whether another connection holds a bulk load open in this store: one of another process that is
        still running, or another connection of this one (the dashboard's panes during its first load)."""
        return self._loading_elsewhere(self.meta(BULK_OWNER_KEY))

    def _loading_elsewhere(self, owner: str | None) -> bool:
        """`bulk_load_elsewhere` for the owner mark already read."""
        if not owner or not owner.isdigit():
            return False
        if int(owner) == os.getpid():  # ours: a load still open on another connection, or one that failed
            return not self._bulk and self.bulk_key in _BULK_HERE
        try:
            os.kill(int(owner), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def let_others_in(self, hold_seconds: float, pause_seconds: float) -> bool:
        """Close the file for `pause_seconds` when another process is waiting for it, then take it back.

        DuckDB lets one process open a file at a time: a long load that never let go would
        keep every report and dashboard out for minutes. A waiter knocks (`_connect`), and is
        let in once the file has been held `hold_seconds`; unasked, the file is only let go
        every UNASKED_HOLD_SECONDS, since closing and reopening it costs the load time (a
        fifth of a first load of 1 GiB when done every 1.5 s). Settings made with `_set` are restored.
        """
        if not self.time_to_let_go(hold_seconds):
            return False
        self.con.close()
        if self._kept is not None:
            if not self._kept.let_go_for(self, pause_seconds):
                return False
        else:
            time.sleep(pause_seconds)
            self.con = _connect(self.path, self.read_only, lock_wait_seconds())
        for name, value in self._settings.items():
            self.con.execute(f"SET {_setting(name)} = '{_quoted(value)}'")
        self._held_since = time.monotonic()
        self._held_since_wall = time.time()
        return True

    def time_to_let_go(self, hold_seconds: float) -> bool:
        """Whether the file has been held `hold_seconds` and someone knocked, or held UNASKED_HOLD_SECONDS."""
        held = time.monotonic() - self._held_since
        return held >= hold_seconds and (held >= UNASKED_HOLD_SECONDS or self._knocked())

    def _knocked(self) -> bool:
        """Whether a process knocked since this hold began."""
        try:
            return _knock_path(self.path).stat().st_mtime >= self._held_since_wall
        except OSError:
            return False

    def _set(self, name: str, value: str) -> None:
        """A DuckDB setting for this store's connection, kept across `let_others_in`."""
        self.con.execute(f"SET {_setting(name)} = '{_quoted(value)}'")
        self._settings[name] = value

    @contextmanager
    def tuned(self, **settings: str) -> Iterator[None]:
        """DuckDB settings (`threads`, `checkpoint_threshold`, …) changed for a block, then restored."""
        names = list(settings)
        before = self.con.execute(
            "SELECT " + ", ".join("current_setting(?)" for _ in names), names
        ).fetchone() or ()
        for name, value in settings.items():
            self._set(name, value)
        try:
            yield
        finally:
            with suppress(duck.ConnectionException):  # closed by a failed reopen: its own error tells why
                for name, value in zip(names, before, strict=True):
                    self._set(name, str(value))

    # -- prices ------------------------------------------------------------------

    def sync_prices(self, table: PriceTable) -> bool:
        """Install the price table and re-price stored rows if it changed. Returns True if it did.

        Ids that only genai-prices' match rules price (`gpt-5.1-codex` as `gpt-5.1`) get rows of
        their own first, once per distinct id stored, so that PRICE_JOIN stays two equi-joins.
        When neither the table nor the stored ids changed since (`price_basis`), nothing more runs:
        the match rules import genai-prices, ~0.3 s of every pass of a store holding such an id.
        """
        models = sorted(m for (m,) in self.query(STORED_MODELS_SQL))
        basis = hashlib.sha256(json.dumps([table.fingerprint, models]).encode()).hexdigest()[:16]
        if self.meta("price_basis") == basis:
            return False  # the same table over the same ids: nothing to re-price, no match rules to run
        table = table.with_models(models)
        if self.meta("price_fingerprint") == table.fingerprint:
            self._set_meta("price_basis", basis)
            return False
        import pyarrow as pa

        rows = [p.as_row() for p in table.rows()]
        arrow = pa.Table.from_pylist(rows, schema=_schema("prices"))
        duck.relations()
        self.con.begin()
        self.con.execute("DELETE FROM prices")
        self.con.register("price_rows", arrow)
        self.con.execute("INSERT INTO prices SELECT * FROM price_rows")
        self.con.unregister("price_rows")
        self.con.execute(
            f"""UPDATE responses AS r SET cost_usd = q.cost, priced = q.priced, tier = q.tier FROM (
                  SELECT r.k, {ROW_COST_SQL} AS cost, {ROW_PRICED_SQL} AS priced,
                         CASE WHEN r.tier = 'other' THEN coalesce(p.tier, r.tier) ELSE r.tier END AS tier
                  FROM responses r {PRICE_JOIN}) q
                WHERE r.k = q.k"""
        )
        self.recount()
        self._set_meta("price_fingerprint", table.fingerprint)
        self._set_meta("price_basis", basis)
        self._set_meta("price_version", table.version)
        self.con.commit()
        return True

    # -- model rules ---------------------------------------------------------------

    def sync_model_rules(self, fingerprint: str, classify: Callable[[str], tuple[str, str]]) -> bool:
        """Re-tier stored rows when the model rules (models.toml) changed. Returns True if it did.

        A store holds few distinct model ids, so each is classified once here and the rows
        follow in one UPDATE; a local model stays local whatever its family.
        """
        if self.meta("models_fingerprint") == fingerprint:
            return False
        import pyarrow as pa

        models = [str(r[0]) for r in self.query("SELECT DISTINCT model FROM responses WHERE model IS NOT NULL")]
        pairs = [classify(m) for m in models]
        mapping = pa.table({"model": models, "vendor": [v for v, _ in pairs], "tier": [t for _, t in pairs]})
        with self.transaction():
            self._insert_arrow(
                "model_map", mapping,
                """UPDATE responses SET tier = m.tier,
                          vendor = CASE WHEN responses.vendor = 'local' OR m.vendor = '' THEN responses.vendor
                                        ELSE m.vendor END
                   FROM model_map m
                   WHERE responses.model = m.model
                     AND (responses.tier IS DISTINCT FROM m.tier
                          OR (m.vendor <> '' AND responses.vendor <> 'local'
                              AND responses.vendor IS DISTINCT FROM m.vendor))""",
            )  # fmt: skip
            self.recount()
            self._set_meta("models_fingerprint", fingerprint)
        return True

    # -- files -------------------------------------------------------------------

    def file_stats(self, paths: list[str]) -> dict[str, tuple[int, float, int]]:
        """(size, mtime, inode) each of `paths` had when last read: what tells an unchanged file.

        Only these columns, so that a pass over thousands of unchanged files does not load
        every file's hashes and parse state (half the cost of a pass that finds nothing new).
        When `paths` are most of the table, every row comes back (a few ms for thousands;
        binding the list of paths as a parameter took ~15 ms); callers look their paths up.
        """
        (stored,) = self.con.execute("SELECT count(*) FROM files").fetchone() or (0,)
        if stored <= 2 * len(paths):  # most of the table is asked for: reading it all beats binding the list
            rows = self.con.execute("SELECT path, size, mtime, inode FROM files").fetchall()
        else:
            rows = self.con.execute(
                "SELECT path, size, mtime, inode FROM files WHERE path IN (SELECT unnest(?::VARCHAR[]))", [paths]
            ).fetchall()
        return {path: (size, mtime, inode) for path, size, mtime, inode in rows}

    def file_marks(self, paths: Iterable[str] | None = None) -> dict[str, FileMark]:
        """Marks of every file ever read, or only of `paths`.

        The files table keeps every transcript ever seen (SPEC §7), so a pass
        asks only for the files on disk: loading them all would cost seconds.
        """
        sql = (
            'SELECT path, source_kind, dev, inode, head_hash, size, mtime, "offset", lines, tail_hash, state'
            " FROM files"
        )
        if paths is None:
            rows = self.con.execute(sql).fetchall()
        else:
            wanted = [list(paths)]
            rows = self.con.execute(sql + " WHERE path IN (SELECT unnest(?::VARCHAR[]))", wanted).fetchall()
        return {r[0]: FileMark(*r) for r in rows}

    # -- writing -----------------------------------------------------------------

    def commit(self, pending: Pending) -> None:
        """Everything gathered in `pending` and the files' new offsets, in one transaction."""
        if not pending:
            return
        self.con.begin()
        try:
            self._write_pending(pending)
            self.con.commit()
        except BaseException:
            self.con.rollback()
            raise

    def _write_pending(self, pending: Pending) -> None:
        responses, events = pending.response_rows(), pending.event_rows()
        if responses is not None:
            self.upsert_responses(responses, unique=False)
        if events is not None:
            self.upsert_events(events)
        if pending.quarantine:
            now = _utcnow()
            rows = [
                (f"{path}:{offset}", path, offset, length, reason[:300], snippet, now)
                for path, offset, length, reason, snippet in pending.quarantine
            ]
            self.con.executemany("INSERT OR IGNORE INTO quarantine VALUES (?, ?, ?, ?, ?, ?, ?)", rows)  # rare
        if pending.entry_types:
            types = pending.entry_types
            counts = {
                "k": [f"{t}:{v}" for t, v, _ in types], "entry_type": [t for t, _, _ in types],
                "version": [v for _, v, _ in types], "known": [known for _, _, known in types],
                "n": list(types.values()),
            }  # fmt: skip
            self._insert_rows(
                "type_rows", "entry_types", counts,
                "INSERT INTO entry_types SELECT * FROM type_rows"
                " ON CONFLICT (k) DO UPDATE SET n = entry_types.n + excluded.n",
            )  # fmt: skip
        if pending.agent_meta:
            self.upsert_agent_meta(pending.agent_meta)
        if pending.marks:
            self._write_marks(list(pending.marks.values()))

    def upsert_responses(self, rows: pa.Table | Columns, *, unique: bool = True) -> None:
        """Insert response rows priced by the prices table, keeping the better copy of a key.

        With `unique=False` the rows may hold several copies of a key (reads of
        several files): the best one is picked before the upsert. In a bulk load
        rows are appended and the key index, built at its end, settles the rest.
        """
        source = "response_rows" if unique or _unique_keys(rows) else (
            f"(SELECT * FROM response_rows QUALIFY row_number() OVER (PARTITION BY k ORDER BY {_BEST_COPY_FIRST}) = 1)"
        )  # fmt: skip
        names = ", ".join(f'"{c}"' for c in [*_RESPONSE_BATCH_COLS, "cost_usd", "priced"])
        sql = f"""INSERT INTO responses ({names})
                  SELECT r.* REPLACE (CASE WHEN r.tier = 'other' THEN coalesce(p.tier, r.tier) ELSE r.tier END AS tier),
                         {ROW_COST_SQL} AS cost_usd,
                         {ROW_PRICED_SQL} AS priced
                  FROM {source} r {PRICE_JOIN}
                  ORDER BY r.ts"""
        regroup = [session_totals_sql("response_rows"), EMPTY_TOTALS_SQL]
        if self._bulk:
            # A bulk load keeps the session totals roughly (copies in later reads count until the key index
            # settles them), so the Sessions list fills as it goes; its end makes them again from the rows.
            statements = [sql, *self._new_sessions(rows), *regroup]
        else:
            new = self._all_new("responses", rows)
            replaced: list[str] = []
            if not new:
                sets = ", ".join(f'"{c}" = excluded."{c}"' for c in [*_RESPONSE_BATCH_COLS[1:], "cost_usd", "priced"])
                sql += f" ON CONFLICT (k) DO UPDATE SET {sets} {_KEEP_BETTER_COPY}"
                # The Health counters move with the rows: what the write replaces comes off, what it stores
                # goes on; the sessions of the copies it may replace are regrouped with the batch's own.
                replaced = [count_delta_sql("response_rows", "-"), MARK_REPLACED_SQL.format(rows="response_rows")]
            totals = [appended_totals_sql("response_rows")] if new else regroup
            statements = [*replaced, sql, count_delta_sql("response_rows", "+"), *self._new_sessions(rows), *totals]
        self._insert_rows("response_rows", "responses", rows, statements)

    def _new_sessions(self, rows: pa.Table | Columns) -> list[str]:
        """Give each session of `rows` without a `session_totals` row an empty one, for the totals statements
        to fill: a live pass's few sessions are looked up by key here (~1 ms; the SQL returned otherwise,
        for a large batch, reads every key of the table, ~25 ms at 260 k sessions)."""
        if not isinstance(rows, dict) or len(rows["k"]) > NEW_SESSIONS_LOOKUP_MAX:
            return [NEW_SESSIONS_SQL.format(rows="response_rows")]
        sessions = sorted({s for s in rows["session_id"] if s is not None})
        if sessions:
            marks = ", ".join("?" * len(sessions))
            known = {r[0] for r in self.query(f"SELECT k FROM session_totals WHERE k IN ({marks})", sessions)}
            missing = [s for s in sessions if s not in known]
            if missing:
                self.con.execute(f"INSERT INTO session_totals (k) VALUES {', '.join(['(?)'] * len(missing))}", missing)
        return []

    def upsert_events(self, rows: pa.Table | Columns) -> None:
        """Insert event rows; a key already stored (or earlier in `arrow`) keeps its first copy.

        Rows go in read order, which is nearly time order: sorting wide rows
        here would cost more than the zone maps it buys.
        """
        verb = "INSERT" if self._bulk or self._all_new("events", rows) else "INSERT OR IGNORE"
        names = ", ".join(f'"{c}"' for c in _EVENT_COLS)
        statements = [f"{verb} INTO events ({names}) SELECT * FROM event_rows"]
        for column, value, delta in _EVENT_COUNTERS:  # a counter moves by the new rows only
            if not self._bulk and _holds(rows, column, value):
                count = delta.format(rows="event_rows", sign="{}")
                statements = [count.format("-"), *statements, count.format("+")]
        self._insert_rows("event_rows", "events", rows, statements)

    def _all_new(self, table: str, rows: pa.Table | Columns) -> bool:
        """True for a few rows whose keys are distinct and none of them stored yet (a live pass's usual
        case): a plain INSERT then writes them, skipping ON CONFLICT's ~10 ms a statement. The check
        is one index lookup per key."""
        if not isinstance(rows, dict) or len(rows["k"]) * len(rows) > VALUES_MAX_PARAMS:
            return False
        keys = rows["k"]
        if len(set(keys)) != len(keys):
            return False
        return not self.query(f"SELECT 1 FROM {table} WHERE k IN ({', '.join('?' * len(keys))}) LIMIT 1", keys)

    def _insert_rows(self, name: str, table: str, rows: pa.Table | Columns, sql: str | list[str]) -> None:
        """Rows for `table`, which the statement(s) `sql` read under `name`: a few as a parameterised VALUES
        list (no pyarrow on a live pass), many or already-built Arrow tables registered as they are."""
        statements = [sql] if isinstance(sql, str) else sql
        if not isinstance(rows, dict):
            self._insert_arrow(name, rows, statements)
            return
        types = _types(table)
        count = len(next(iter(rows.values()), []))
        limit = VALUES_MAX_PARAMS_ARROW_LOADED if "pyarrow" in sys.modules else VALUES_MAX_PARAMS
        if count * len(rows) > limit:
            import pyarrow as pa

            self._insert_arrow(name, pa.Table.from_pydict(rows, schema=_schema(table)), statements)
            return
        one = "(" + ", ".join(f"?::{types[column]}" for column in rows) + ")"
        names = ", ".join(f'"{column}"' for column in rows)
        params = [value for row in zip(*rows.values(), strict=True) for value in row]
        values = f"WITH {name} AS (SELECT * FROM (VALUES {', '.join([one] * count)}) AS v({names}))"
        for sql in statements:
            self.con.execute(f"{values} {sql}", params)

    def _insert_arrow(self, name: str, arrow: pa.Table, sql: str | list[str]) -> None:
        duck.relations()
        self.con.register(name, arrow)
        try:
            for statement in [sql] if isinstance(sql, str) else sql:
                self.con.execute(statement)
        finally:
            self.con.unregister(name)

    def _write_marks(self, marks: list[FileMark]) -> None:
        now = _utcnow()
        rows: Columns = {name: [getattr(mark, name) for mark in marks] for name in FileMark.__dataclass_fields__}
        rows["first_ingest"] = rows["last_ingest"] = [now] * len(marks)
        sets = ", ".join(f'"{c}" = excluded."{c}"' for c in FILE_COLUMNS if c not in ("path", "first_ingest"))
        self._insert_rows(
            "mark_rows", "files", rows,
            f"INSERT INTO files BY NAME SELECT * FROM mark_rows ON CONFLICT (path) DO UPDATE SET {sets}",
        )  # fmt: skip

    def upsert_agent_meta(self, rows: list[AgentMeta]) -> None:
        """Sidecar rows, the last one of an agent id winning."""
        latest = list({row[0]: row for row in rows}.values())
        columns = {name: [row[i] for row in latest] for i, name in enumerate(AGENT_META_COLUMNS)}
        self._insert_rows(
            "agent_meta_rows", "agent_meta", columns, "INSERT OR REPLACE INTO agent_meta SELECT * FROM agent_meta_rows"
        )

    # -- writing for the signals and the team push ---------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction: committed at the end of the block, rolled back if it raises."""
        self.con.begin()
        try:
            yield
            self.con.commit()
        except BaseException:
            self.con.rollback()
            raise

    def execute(self, sql: str, params: list[Any] | None = None) -> None:
        """A write statement with `?` parameters (never values formatted into `sql`)."""
        self.con.execute(sql, params or [])

    def execute_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """One write statement for each of a few rows (no pyarrow for a handful)."""
        self.con.executemany(sql, rows)

    def insert_arrow(self, table: str, arrow: pa.Table, sql: str | None = None) -> None:
        """Rows of `arrow` into `table` (or through `sql`, which reads them as `arrow_rows`)."""
        self._insert_arrow("arrow_rows", arrow, sql or f"INSERT INTO {table} SELECT * FROM arrow_rows")

    def recreate_tables(self, tables: dict[str, dict[str, str]]) -> None:
        """Drop and create `tables` empty, in one transaction: cheaper than deleting millions of rows."""
        with self.transaction():
            for name, columns in tables.items():
                self.con.execute(f"DROP TABLE IF EXISTS {name}")
                self.con.execute(create_table_sql(name, columns))

    def set_meta(self, key: str, value: str) -> None:
        self._set_meta(key, value)

    # -- reading -----------------------------------------------------------------

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params or []).fetchall()

    def frame(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        """A query's result as a polars DataFrame, handed over by DuckDB without a copy through Python."""
        duck.relations()
        cursor = _setup(self.con.cursor())  # its own cursor: a result left open on the connection must not block it
        try:
            frame: pl.DataFrame = cursor.sql(sql, params=params or None).pl()
            return frame
        finally:
            cursor.close()

    def arrow(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        """A query's result as one Arrow table (no Python rows)."""
        duck.relations()
        return self.con.sql(sql, params=params).to_arrow_table()

    def cursor(self) -> duck.DuckDBPyConnection:
        """A cursor of its own, for a reader that builds relations step by step (the export)."""
        duck.relations()
        return _setup(self.con.cursor())

    def query_dicts(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        cur = self.con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _setting(name: str) -> str:
    if not name.isidentifier():
        raise ValueError(f"not a DuckDB setting name: {name!r}")
    return name


def _quoted(value: str) -> str:
    return value.replace("'", "''")


def _unique_keys(rows: pa.Table | Columns) -> bool:
    if isinstance(rows, dict):
        return len(set(rows["k"])) == len(rows["k"])
    import pyarrow.compute as pc

    return bool(pc.count_distinct(rows["k"]).as_py() == rows.num_rows)


def _concat(tables: list[pa.Table]) -> pa.Table:
    import pyarrow as pa

    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


class KeptFile:
    """A store file that a resident process (`tiermon serve`) keeps open between its answers.

    Opening costs each answer ~45 ms, a quarter of a warm report. While kept, every
    `Store.open` of the file in this process gets a cursor of the one connection, and the
    file is let go as soon as another process knocks: when the last cursor closes, or at
    once by `let_go` from an idle resident. The next `Store.open` takes it back. Safe to
    use from several threads: lending, taking and letting go hold one lock.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.con: duck.DuckDBPyConnection | None = None
        self.lent_out = 0
        self.held_since = 0.0
        self.held_since_wall = 0.0
        self.stopped = False
        """`stop_keeping` was called while a cursor was out: the last one back closes the file."""
        self._identity: tuple[int, int] | None = None
        self._migrated = False
        self._lock = threading.RLock()

    @contextmanager
    def lent(self, read_only: bool, wait: float) -> Iterator[Store]:
        """A Store on a cursor of the kept connection, opened first if it was let go (or its path now names
        another file). A read-only lend behaves as a read-only open: no store is created or migrated for it."""
        with self._lock:
            if self.con is not None and not self.lent_out and self.replaced():
                self.let_go()
            if self.con is None:
                self._take(wait, read_only)
            assert self.con is not None
            if not read_only and not self._migrated:
                with _closing_cursor(self.con) as cur:
                    Store(cur, self.path, False).migrate()
                self._migrated = True
            store = Store(self.con.cursor(), self.path, read_only)
            self.lent_out += 1
        store._kept = self
        store._held_since, store._held_since_wall = self.held_since, self.held_since_wall
        try:
            _setup(store.con)
            if not read_only:
                store.ensure_key_indexes()  # as every writable open: a load of this process that failed left them down
            yield store
        finally:
            with suppress(duck.Error):
                store.con.close()
            with self._lock:
                self.lent_out -= 1
                if not self.lent_out and (self.stopped or self.knocked()):
                    self.let_go()

    def _take(self, wait: float, read_only: bool = False) -> None:
        if read_only and not self.path.exists():
            raise StoreError(f"no database at {self.path}: run `tiermon ingest` first")
        con = _connect(self.path, False, wait)
        try:
            with _closing_cursor(con) as cur:
                taken = Store(cur, self.path, False)
                if read_only:
                    taken._check_version()
                else:
                    taken.migrate()
                    taken.ensure_key_indexes()
            st = os.stat(self.path)
        except BaseException:
            con.close()
            raise
        self.con, self._migrated, self._identity = con, not read_only, (st.st_dev, st.st_ino)
        self.held_since, self.held_since_wall = time.monotonic(), time.time()

    def replaced(self) -> bool:
        """Whether the path no longer names the open file (deleted, moved aside, replaced): the kept
        connection would answer from, and write to, a file nobody else sees."""
        if self.con is None:
            return False
        try:
            st = os.stat(self.path)
        except OSError:
            return True
        return (st.st_dev, st.st_ino) != self._identity

    def knocked(self) -> bool:
        """Whether another process knocked since the file was taken."""
        try:
            return self.con is not None and _knock_path(self.path).stat().st_mtime >= self.held_since_wall
        except OSError:
            return False

    def let_go_if_wanted(self, *, blocking: bool = True) -> bool:
        """An idle holder's check (the dashboard's timer, `tiermon serve` between answers): let go when another
        process knocked or the path now names another file. Whether it did."""
        return (self.knocked() or self.replaced()) and self.let_go(blocking=blocking)

    def let_go(self, *, blocking: bool = True) -> bool:
        """Close the file unless a cursor is lent out: another process may open it now. Whether it did.
        With `blocking` off, a thread taking or lending it meanwhile makes this a no-op (an event loop's timer)."""
        if not self._lock.acquire(blocking=blocking):
            return False
        try:
            if self.con is None or self.lent_out:
                return False
            with suppress(duck.Error):
                self.con.close()
            self.con = None
            return True
        finally:
            self._lock.release()

    def let_go_for(self, store: Store, pause_seconds: float) -> bool:
        """`Store.let_others_in` for a lent store whose cursor was closed: let go, pause, take back.
        False (nothing let go; the store has a fresh cursor) while another cursor is lent out."""
        with self._lock:
            alone = self.lent_out == 1
            if alone:
                self.lent_out = 0
                self.let_go()
                try:
                    time.sleep(pause_seconds)
                    self._take(lock_wait_seconds())
                finally:
                    self.lent_out = 1  # lent() gives it back, taken or not
            assert self.con is not None
            store.con = self.con.cursor()
        _setup(store.con)
        return alone


@contextmanager
def _closing_cursor(con: duck.DuckDBPyConnection) -> Iterator[duck.DuckDBPyConnection]:
    """A cursor for work on a kept connection, closed after it: a result left unread on the kept
    connection itself (a `fetchone`) holds its transaction open for as long as the file is kept, and
    a bulk load's key index then finds the duplicates it had just deleted still alive."""
    cur = con.cursor()
    try:
        _setup(cur)
        yield cur
    finally:
        cur.close()


_KEPT: dict[str, KeptFile] = {}
"""Files this process keeps open between operations, by real path (`keep_open`); none in a CLI command."""


def keep_open(path: Path) -> KeptFile:
    """Keep this store file open between this process's operations, letting go whenever another knocks."""
    return _KEPT.setdefault(os.path.realpath(path), KeptFile(path))


def stop_keeping(path: Path) -> None:
    """Close and forget a kept file; one lent out meanwhile (a pane's query) is closed when it comes back."""
    kept = _KEPT.pop(os.path.realpath(path), None)
    if kept is not None:
        with kept._lock:
            kept.stopped = True
            kept.let_go()


CONNECTION_SETTINGS = (
    "SET TimeZone = 'UTC';"
    " SET enable_progress_bar = false;"  # else DuckDB draws one on stdout, inside a --json answer
    " SET late_materialization_max_rows = 1000"
)
"""Set on every connection and cursor (a cursor does not inherit them all). Late materialization: a
query for the newest rows reads the wide columns of those rows only, not of every row it sorts; DuckDB
does it up to 50 rows by default, and the Sessions list's 1,000 newest sessions read every session's
first prompt (~60 of 90 ms at 260 k sessions)."""


def _setup(con: duck.DuckDBPyConnection) -> duck.DuckDBPyConnection:
    """`con` with CONNECTION_SETTINGS applied."""
    con.execute(CONNECTION_SETTINGS)
    return con


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _connect(path: Path, read_only: bool, wait: float) -> duck.DuckDBPyConnection:
    """Open the file, creating its folder 0700 and the file 0600; wait out other writers."""
    if read_only and not path.exists():
        raise StoreError(f"no database at {path}: run `tiermon ingest` first")
    if not read_only:
        _private_dir(path.parent)
        _private_umask()
    _private_file(path)
    deadline = time.monotonic() + wait
    delay = 0.005
    while True:
        try:
            con = duck.connect(str(path), read_only=read_only)
            break
        except duck.IOException as exc:
            message = str(exc)
            if "lock" in message.lower() and time.monotonic() < deadline:
                _knock(path)
                time.sleep(delay)
                delay = min(delay * 1.3, 0.25)  # a holder that keeps the file open lets go within ~25 ms
                continue
            if "lock" in message.lower():
                raise StoreError(f"database {path} is busy: another process has held it for over {wait:.0f}s") from exc
            raise _open_error(path, exc) from exc
        except duck.Error as exc:
            raise _open_error(path, exc) from exc
    _private_file(path)
    return _setup(con)


def _knock_path(path: Path) -> Path:
    return path.with_name(path.name + KNOCK_SUFFIX)


def _knock(path: Path) -> None:
    """Tell the process holding the file that someone waits (see `Store.let_others_in`)."""
    with suppress(OSError):  # a read-only folder: the holder lets go unasked, later
        _knock_path(path).touch()


_DAMAGED = ("not a valid duckdb database", "corrupt", "checksum", "could not read enough bytes",
            "invalid database", "serializ", "failed to load metadata")  # fmt: skip
"""Words of DuckDB's open errors that mean the file itself is damaged (torn, truncated, overwritten)."""


def _open_error(path: Path, exc: duck.Error) -> StoreError:
    """One line for a failed open; a damaged file gets the remedy, since the transcripts can rebuild it."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if any(word in message.lower() for word in _DAMAGED):
        return StoreError(f"database {path} is damaged: move it aside and run `tiermon ingest` "
                          "to rebuild it from the transcripts still on disk")  # fmt: skip
    return StoreError(f"cannot open database {path}: {message}")


def _private_umask() -> None:
    """Tighten the process umask for good, so every file DuckDB creates (the .wal too) is 0600 from birth.

    DuckDB creates the .wal on the first write, long after connect, and again after each checkpoint:
    a umask restored once connect returns would not cover it. Tightening only ever removes group and
    other bits, so concurrent callers cannot undo one another.
    """
    os.umask(os.umask(0o077) | 0o077)


def _private_dir(folder: Path) -> None:
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)
        os.chmod(folder, 0o700)


def _private_file(path: Path) -> None:
    """The database and its .wal 0600, whoever made them: a .wal left by a killed writer is fixed on open."""
    for candidate in (path, path.with_name(path.name + ".wal")):
        try:
            if candidate.exists() and candidate.stat().st_mode & 0o077:
                os.chmod(candidate, 0o600)
        except OSError:
            pass
