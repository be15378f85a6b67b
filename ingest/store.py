"""The DuckDB store: schema, migrations, batched upserts and short-lived connections.

DuckDB lets one process hold a file read-write, and while it does no other
process may open it at all. tiermon therefore never keeps the file open
between operations: every writer and reader opens, works and closes
(`Store.open`), retrying for a few seconds while another tiermon holds the
lock. A TUI, a report and an export can then share one database; each waits
at most for the other's current batch.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from tiermon.ingest.parse import Batch
from tiermon.ingest.pricing import COST_SQL, PriceTable
from tiermon.ingest.schema import (
    EVENT_COLUMNS,
    FILE_COLUMNS,
    MIGRATIONS,
    PRICE_COLUMNS,
    RESPONSE_COLUMNS,
    SCHEMA_VERSION,
)

LOCK_WAIT_SECONDS = float(os.environ.get("TIERMON_LOCK_WAIT", "10"))
"""How long an operation waits for another tiermon to release the database."""

_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMP": pa.timestamp("us"),
    "DOUBLE": pa.float64(),
}


class StoreError(Exception):
    """A store problem the user can act on; the message is one line."""


def arrow_schema(columns: dict[str, str], skip: tuple[str, ...] = ()) -> pa.Schema:
    return pa.schema(
        [(name, _ARROW_TYPES[ddl.split()[0]]) for name, ddl in columns.items() if name not in skip]
    )


_RESPONSE_BATCH_SCHEMA = arrow_schema(RESPONSE_COLUMNS, skip=("cost_usd", "priced"))
_EVENT_SCHEMA = arrow_schema(EVENT_COLUMNS)
_PRICE_SCHEMA = arrow_schema(PRICE_COLUMNS)
_RESPONSE_BATCH_COLS = [f.name for f in _RESPONSE_BATCH_SCHEMA]

_PRICE_JOIN = """
LEFT JOIN prices p ON p.model = (CASE WHEN r.model IN (SELECT model FROM prices) THEN r.model ELSE r.model_base END)
"""

_KEEP_BETTER_COPY = """
WHERE excluded.output_tokens > responses.output_tokens
   OR (excluded.output_tokens = responses.output_tokens AND responses.is_sidechain AND NOT excluded.is_sidechain)
"""
"""SPEC §3: of two copies of one response, keep the larger output, then the main-chain copy."""


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


class Store:
    """One open connection to the database file; use `Store.open` to get one."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, read_only: bool) -> None:
        self.con = con
        self.path = path
        self.read_only = read_only

    # -- opening -----------------------------------------------------------------

    @classmethod
    @contextmanager
    def open(cls, path: Path, *, read_only: bool = False, wait: float = LOCK_WAIT_SECONDS) -> Iterator[Store]:
        """Open, migrate if writable, yield, close. Waits while another process holds the lock."""
        store = cls(_connect(path, read_only, wait), path, read_only)
        try:
            if read_only:
                store._check_version()
            else:
                store.migrate()
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
            self.con.begin()
            for stmt in MIGRATIONS[version]:
                self.con.execute(stmt)
            self._set_meta("schema_version", str(version))
            self.con.commit()

    def schema_version(self) -> int:
        row = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def _check_version(self) -> None:
        try:
            version = self.schema_version()
        except duckdb.CatalogException:
            version = 0
        if version != SCHEMA_VERSION:
            raise StoreError(f"{self.path} has schema {version}, tiermon needs {SCHEMA_VERSION}: run `tiermon ingest` once")

    def meta(self, key: str) -> str | None:
        row = self.con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return str(row[0]) if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    # -- prices ------------------------------------------------------------------

    def sync_prices(self, table: PriceTable) -> bool:
        """Install the price table and re-price stored rows if it changed. Returns True if it did."""
        if self.meta("price_fingerprint") == table.fingerprint:
            return False
        rows = [p.as_row() for p in table.prices.values()]
        arrow = pa.Table.from_pylist(rows, schema=_PRICE_SCHEMA)
        self.con.begin()
        self.con.execute("DELETE FROM prices")
        self.con.register("price_rows", arrow)
        self.con.execute("INSERT INTO prices SELECT * FROM price_rows")
        self.con.unregister("price_rows")
        self.con.execute(
            f"""UPDATE responses AS r SET cost_usd = q.cost, priced = q.priced, tier = q.tier FROM (
                  SELECT r.k, {COST_SQL} AS cost, p.model IS NOT NULL AS priced, coalesce(p.tier, r.tier) AS tier
                  FROM responses r {_PRICE_JOIN}) q
                WHERE r.k = q.k"""
        )
        self._set_meta("price_fingerprint", table.fingerprint)
        self._set_meta("price_version", table.version)
        self.con.commit()
        return True

    # -- files -------------------------------------------------------------------

    def file_marks(self) -> dict[str, FileMark]:
        rows = self.con.execute(
            "SELECT path, source_kind, dev, inode, head_hash, size, mtime, \"offset\", lines FROM files"
        ).fetchall()
        return {r[0]: FileMark(*r) for r in rows}

    # -- writing -----------------------------------------------------------------

    def write(self, mark: FileMark, batch: Batch, *, reset: bool = False) -> None:
        """Rows of one read and the file's new offset, in one transaction."""
        self.con.begin()
        try:
            self._write_rows(batch, mark.path)
            self._write_mark(mark, reset)
            self.con.commit()
        except BaseException:
            self.con.rollback()
            raise

    def _write_rows(self, batch: Batch, path: str) -> None:
        if batch.response_count:
            arrow = pa.Table.from_pydict(
                {c: batch.responses[c] for c in _RESPONSE_BATCH_COLS}, schema=_RESPONSE_BATCH_SCHEMA
            )
            self.upsert_responses(arrow)
        if batch.events:
            self.con.register("event_rows", pa.Table.from_pydict(batch.events, schema=_EVENT_SCHEMA))
            self.con.execute("INSERT OR IGNORE INTO events SELECT * FROM event_rows")
            self.con.unregister("event_rows")
        now = _utcnow()
        for offset, length, reason, snippet in batch.quarantine:
            self.con.execute(
                "INSERT OR IGNORE INTO quarantine VALUES (?, ?, ?, ?, ?, ?, ?)",
                [f"{path}:{offset}", path, offset, length, reason[:300], snippet, now],
            )
        if batch.entry_types:
            from tiermon.ingest.parse import KNOWN_TYPES

            rows = [
                (f"{t}:{v}", t, v, t in KNOWN_TYPES, n) for (t, v), n in batch.entry_types.items()
            ]
            self.con.executemany(
                "INSERT INTO entry_types VALUES (?, ?, ?, ?, ?) ON CONFLICT (k) DO UPDATE SET n = entry_types.n + excluded.n",
                rows,
            )

    def upsert_responses(self, arrow: pa.Table) -> None:
        """Insert response rows priced by the prices table, keeping the better copy of a key."""
        sets = ", ".join(f'"{c}" = excluded."{c}"' for c in [*_RESPONSE_BATCH_COLS[1:], "cost_usd", "priced"])
        self.con.register("response_rows", arrow)
        self.con.execute(
            f"""INSERT INTO responses
                SELECT r.* REPLACE (coalesce(p.tier, r.tier) AS tier), {COST_SQL} AS cost_usd,
                       p.model IS NOT NULL AS priced
                FROM response_rows r {_PRICE_JOIN}
                ON CONFLICT (k) DO UPDATE SET {sets}
                {_KEEP_BETTER_COPY}"""
        )
        self.con.unregister("response_rows")

    def _write_mark(self, mark: FileMark, reset: bool) -> None:
        now = _utcnow()
        self.con.execute(
            f"""INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (path) DO UPDATE SET {', '.join(f'"{c}" = excluded."{c}"' for c in FILE_COLUMNS if c not in ('path', 'first_ingest'))}""",
            [mark.path, mark.source_kind, mark.dev, mark.inode, mark.head_hash, mark.size, mark.mtime,
             mark.offset, mark.lines, now, now],
        )  # fmt: skip

    def upsert_agent_meta(self, rows: list[tuple[str, str | None, str | None, str | None, str | None]]) -> None:
        self.con.executemany("INSERT OR REPLACE INTO agent_meta VALUES (?, ?, ?, ?, ?)", rows)

    # -- reading -----------------------------------------------------------------

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params or []).fetchall()

    def query_dicts(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        cur = self.con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _connect(path: Path, read_only: bool, wait: float) -> duckdb.DuckDBPyConnection:
    """Open the file, creating its folder 0700 and the file 0600; wait out other writers."""
    if read_only and not path.exists():
        raise StoreError(f"no database at {path}: run `tiermon ingest` first")
    if not read_only:
        _private_dir(path.parent)
    deadline = time.monotonic() + wait
    delay = 0.02
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            message = str(exc)
            if "lock" in message.lower() and time.monotonic() < deadline:
                time.sleep(delay)
                delay = min(delay * 2, 0.25)
                continue
            if "lock" in message.lower():
                raise StoreError(f"database {path} is busy: another process has held it for over {wait:.0f}s") from exc
            raise StoreError(f"cannot open database {path}: {message.splitlines()[0]}") from exc
        except duckdb.Error as exc:
            raise StoreError(f"cannot open database {path}: {str(exc).splitlines()[0]}") from exc
    if not read_only:
        _private_file(path)
    con.execute("SET TimeZone = 'UTC'")
    return con


def _private_dir(folder: Path) -> None:
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)
        os.chmod(folder, 0o700)


def _private_file(path: Path) -> None:
    for candidate in (path, path.with_name(path.name + ".wal")):
        try:
            if candidate.exists() and candidate.stat().st_mode & 0o077:
                os.chmod(candidate, 0o600)
        except OSError:
            pass
