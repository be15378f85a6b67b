"""Provides TeamSink, one connection to the team database: schema checks and migration, upserts, reads.

Pushes may repeat, overlap and run from many machines at once: migrations
take an advisory lock, and each batch is one keyed upsert in key order,
retried on a deadlock or serialization failure.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from tiermon import __version__
from tiermon.ingest.store import Store, StoreError
from tiermon.ingest.team.connection import TeamError, _connect, _psycopg, _scrub, _translated, mask_url
from tiermon.ingest.team.push import _changed_responses, _changed_signals, _digest_table, _remember
from tiermon.ingest.team.schema import (
    _LOCK_ID,
    _RESPONSE_UPDATE_WHEN,
    MIGRATIONS,
    RESPONSE_COLUMNS,
    SCHEMA,
    SIGNAL_COLUMNS,
    TEAM_SCHEMA_VERSION,
)

if TYPE_CHECKING:
    import psycopg

    from tiermon.ingest.config import Settings

BATCH_ROWS = 20_000
"""Rows per server transaction: short enough that concurrent pushers wait little."""
RETRIES = 5
"""Attempts per batch when the server reports a deadlock or serialization failure."""


@dataclass(frozen=True)
class PushResult:
    """What one push did."""

    url: str
    """The team URL, password masked."""
    user: str
    machine: str
    responses_sent: int
    responses_stored: int
    """Rows the server inserted or replaced (fewer than sent when another machine had a better copy)."""
    signals_sent: int
    signals_available: bool
    """False when this tiermon has no signals engine: responses only."""


class TeamSink:
    """One connection to the team database; use `TeamSink.open`."""

    def __init__(self, con: psycopg.Connection[Any], url: str) -> None:
        self.con = con
        self.url = url
        self.sink_id = ""

    @classmethod
    @contextmanager
    def open(cls, url: str | None) -> Iterator[TeamSink]:
        """Connect (one clear line when that fails), yield, close."""
        con = _connect(url)
        assert url is not None
        try:
            with _translated(url):
                yield cls(con, url)
        finally:
            with suppress(Exception):
                con.close()

    @property
    def masked_url(self) -> str:
        return mask_url(self.url)

    # -- schema ------------------------------------------------------------------

    def schema_version(self) -> int | None:
        row = self.con.execute("SELECT to_regclass(%s) IS NOT NULL", [f"{SCHEMA}.meta"]).fetchone()
        if not row or not row[0]:
            return None
        value = self._meta("schema_version")
        return int(value) if value else None

    def _meta(self, key: str) -> str | None:
        row = self.con.execute(f"SELECT value FROM {SCHEMA}.meta WHERE key = %s", [key]).fetchone()
        return str(row[0]) if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self.con.execute(
            f"""INSERT INTO {SCHEMA}.meta VALUES (%s, %s)
                ON CONFLICT (key) DO UPDATE SET value = excluded.value""",
            [key, value],
        )

    def ready_to_read(self) -> None:
        """Check that tiermon's schema is there and this tiermon understands it."""
        version = self.schema_version()
        if version is None:
            raise TeamError(
                f"no tiermon data in the team database {self.masked_url} yet: run `tiermon team push` first"
            )
        self._check_not_newer(version)

    def ready_to_push(self) -> None:
        """Create or migrate the schema, then check that this role may write."""
        version = self.schema_version()
        if version is not None:
            self._check_not_newer(version)
        if version != TEAM_SCHEMA_VERSION:
            self._migrate()
        self._check_writable()
        self.sink_id = self._meta("sink_id") or ""

    def _check_not_newer(self, version: int) -> None:
        if version > TEAM_SCHEMA_VERSION:
            raise TeamError(
                f"the team database {self.masked_url} was set up by a newer tiermon (schema {version}); upgrade tiermon"
            )

    def _migrate(self) -> None:
        errors = _psycopg().errors
        try:
            with self.con.transaction():
                self.con.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_ID])
                current = self.schema_version() or 0
                self._check_not_newer(current)
                if not self.con.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [SCHEMA]).fetchone():
                    self.con.execute(f"CREATE SCHEMA {SCHEMA}")
                for version in range(current + 1, TEAM_SCHEMA_VERSION + 1):
                    for stmt in MIGRATIONS[version]:
                        self.con.execute(stmt)
                    self._set_meta("schema_version", str(version))
                if not self._meta("sink_id"):
                    self._set_meta("sink_id", uuid.uuid4().hex)
        except (errors.InsufficientPrivilege, errors.ReadOnlySqlTransaction) as exc:
            raise TeamError(
                f"role {self._role()!r} may not create tiermon's tables in {self.masked_url} "
                f"({_scrub(str(exc), self.url)}): set the database up as the README says"
            ) from None

    def _role(self) -> str:
        row = self.con.execute("SELECT current_user").fetchone()
        return str(row[0]) if row else "?"

    def _check_writable(self) -> None:
        row = self.con.execute(
            """SELECT current_user, current_setting('transaction_read_only') = 'on',
                      bool_and(has_table_privilege(t, 'INSERT') AND has_table_privilege(t, 'UPDATE'))
               FROM unnest(%s::text[]) AS t""",
            [[f"{SCHEMA}.{name}" for name in ("responses", "signals", "members")]],
        ).fetchone()
        assert row is not None
        role, read_only, may_write = row
        if read_only or not may_write:
            raise TeamError(
                f"role {role!r} can read the team database but not write to it: `tiermon team push` needs a role "
                f"with INSERT and UPDATE on schema {SCHEMA} (a read-only role is for `tiermon team report`)"
            )

    # -- pushing -----------------------------------------------------------------

    def push(self, db_path: Path, user: str, machine: str) -> PushResult:
        """Send what is new or changed in the local store since the last push from here."""
        if not self.sink_id:
            self.ready_to_push()
        scope = hashlib.sha256(f"{self.sink_id}|{user}|{machine}".encode()).hexdigest()[:16]
        with Store.open(db_path, read_only=True) as store:
            responses = _changed_responses(store, f"{scope}:r:", user, machine)
            signals, available = _changed_signals(store, f"{scope}:s:", user, machine)
        done: list[tuple[str, pa.Table]] = []
        stored = 0
        try:
            for start in range(0, responses.num_rows, BATCH_ROWS):
                chunk = responses.slice(start, BATCH_ROWS)
                rows = zip(*(chunk.column(c).to_pylist() for c in RESPONSE_COLUMNS), strict=True)
                stored += self._upsert("responses", RESPONSE_COLUMNS, rows, _response_conflict())
                done.append((f"{scope}:r:", chunk.select(["k", "digest"])))
            for start in range(0, len(signals), BATCH_ROWS):
                part = signals[start : start + BATCH_ROWS]
                self._upsert("signals", SIGNAL_COLUMNS, (s.values() for s in part), _signal_conflict())
                done.append((f"{scope}:s:", _digest_table([(s.k, s.digest) for s in part])))
            self._record_member(user, machine, responses.num_rows, len(signals))
        except BaseException:
            with suppress(StoreError):
                _remember(db_path, done)
            raise
        _remember(db_path, done)
        return PushResult(self.masked_url, user, machine, responses.num_rows, stored, len(signals), available)

    def _upsert(self, table: str, columns: dict[str, str], rows: Any, conflict: str) -> int:
        """COPY rows into a temp table, then one keyed upsert in key order (no deadlock between pushers)."""
        errors = _psycopg().errors
        temp = f"tiermon_push_{table}"
        temp_cols = ", ".join(f"{c} {'TEXT' if ddl == 'JSONB' else ddl}" for c, ddl in columns.items())
        names = ", ".join(columns)
        select = ", ".join(f"{c}::jsonb" if ddl == "JSONB" else c for c, ddl in columns.items())
        rows = list(rows)
        for attempt in range(RETRIES):
            try:
                with self.con.transaction(), self.con.cursor() as cur:
                    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {temp} ({temp_cols}) ON COMMIT DELETE ROWS")
                    with cur.copy(f"COPY {temp} ({names}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                    cur.execute(
                        f"""INSERT INTO {SCHEMA}.{table} AS t ({names})
                            SELECT {select} FROM {temp} ORDER BY k {conflict}"""
                    )
                    return max(cur.rowcount, 0)
            except (errors.DeadlockDetected, errors.SerializationFailure):
                if attempt == RETRIES - 1:
                    raise
                time.sleep(0.05 * 2**attempt)
        return 0

    def _record_member(self, user: str, machine: str, responses: int, signals: int) -> None:
        self.con.execute(
            f"""INSERT INTO {SCHEMA}.members VALUES (%s, %s, now(), %s, %s, %s)
                ON CONFLICT (user_name, machine) DO UPDATE SET last_push = now(),
                  pushed_responses = members.pushed_responses + excluded.pushed_responses,
                  pushed_signals = members.pushed_signals + excluded.pushed_signals,
                  tiermon_version = excluded.tiermon_version""",
            [user, machine, responses, signals, __version__],
        )

    # -- reading -----------------------------------------------------------------

    def query_dicts(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with self.con.cursor() as cur:
            cur.execute(sql, params or {})
            names = [d.name for d in cur.description or []]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _response_conflict() -> str:
    sets = ", ".join(f"{c} = excluded.{c}" for c in RESPONSE_COLUMNS if c != "k")
    return f"ON CONFLICT (k) DO UPDATE SET {sets}, pushed_at = now() {_RESPONSE_UPDATE_WHEN}"


def _signal_conflict() -> str:
    """A recomputed signal replaces its row; the same signal pushed from another machine changes nothing."""
    cols = [c for c in SIGNAL_COLUMNS if c != "k"]
    content = [c for c in cols if c not in ("user_name", "machine")]
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols)
    mine = ", ".join(f"t.{c}" for c in content)
    theirs = ", ".join(f"excluded.{c}" for c in content)
    return f"ON CONFLICT (k) DO UPDATE SET {sets}, pushed_at = now() WHERE ({mine}) IS DISTINCT FROM ({theirs})"


def push_settings(settings: Settings, *, refresh: bool = True) -> PushResult:
    """Connect, check the role may write, read what is new locally (`refresh`), push it.

    The connection comes first so that an unreachable or read-only server
    leaves the local store untouched.
    """
    with TeamSink.open(settings.team_url) as sink:
        sink.ready_to_push()
        if refresh:
            from tiermon.ingest.runner import Ingestor

            Ingestor(settings).run()
        return sink.push(settings.db_path, settings.user, settings.machine)
